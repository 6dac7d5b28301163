"""The base of the DRF tests' API views (here, not in utils: importing DRF's
views reads Django's settings)."""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView


class OpenJSONView(APIView):
    """An API view anyone may post JSON to, answering in JSON."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
