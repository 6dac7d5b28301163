"""Signup pages (GET only: the benchmark measures showing a challenge).

The forms are imported when a page is asked for, so a worker of one side
never imports the other side's app.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def ours(request: HttpRequest) -> HttpResponse:
    """The signup page with our CAPTCHA."""
    from benchmarks.peer_site.forms import OursForm

    return render(request, "bench/signup.html", {"form": OursForm()})


def peer(request: HttpRequest) -> HttpResponse:
    """The same page with django-simple-captcha."""
    from benchmarks.peer_site.forms import PeerForm

    return render(request, "bench/signup.html", {"form": PeerForm()})


def plain(request: HttpRequest) -> HttpResponse:
    """The same page with no CAPTCHA: the ceiling for any CAPTCHA's page."""
    from django.contrib.auth.forms import UserCreationForm

    return render(request, "bench/signup.html", {"form": UserCreationForm()})


def ping(request: HttpRequest) -> HttpResponse:
    """Tells the benchmark a server is up, without making a challenge."""
    return HttpResponse("ok", content_type="text/plain")
