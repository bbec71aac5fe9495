"""Prometheus metrics (``prometheus-client``), one registry per app so test apps never collide."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """What an operator watches: request rate, errors and latency per route; live sessions; render jobs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("remix_http_requests_total", "HTTP requests answered, by route template and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("remix_http_request_duration_seconds", "Time to answer an HTTP request.",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
        self.websockets = Gauge("remix_websockets_open", "Websocket connections open on this process.",
                                registry=self.registry)
        self.live_sessions = Gauge("remix_live_sessions", "Live fan sessions running on this process.",
                                   registry=self.registry)
        self.render_jobs = Counter("remix_render_jobs_total", "Render jobs sent to workers, by kind and outcome.",
                                   ["kind", "outcome"], registry=self.registry)

    def watch_live_sessions(self, count: Callable[[], float]) -> None:
        """Read the live-session count when scraped (the hub owns the number; no double bookkeeping)."""
        self.live_sessions.set_function(count)
