"""App config of the benchmark pages."""

from __future__ import annotations

from django.apps import AppConfig


class PeerSiteConfig(AppConfig):
    """Templates and views for the benchmark's signup pages."""

    name = "benchmarks.peer_site"
    label = "bench_peer_site"
