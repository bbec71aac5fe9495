"""One ASGI middleware for request ids, access logs and request metrics (websockets pass through counted).

Pure ASGI rather than ``BaseHTTPMiddleware``: it does not buffer streamed responses (file downloads) and it
sees websocket connections too.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remix.ops.logs import request_id_var
from remix.ops.metrics import Metrics

logger = logging.getLogger("remix.access")
logger_errors = logging.getLogger("remix.errors")

REQUEST_ID_HEADER = b"x-request-id"
# A caller's id is kept (so a proxy's id follows the request through) only if it is short and plain.
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


def _route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/tracks/{track_id}``), never the raw path: bounded labels."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER, b"")
        request_id = given.decode() if _SAFE_ID.match(given) else secrets.token_hex(8)
        token = request_id_var.set(request_id)
        try:
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self._http(scope, receive, send, request_id)
        finally:
            request_id_var.reset(token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.metrics.websockets.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.metrics.websockets.dec()

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 500  # what the client sees if the app raises before answering
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = int(message["status"]), True
                headers: list[Any] = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if answered:  # a streamed body failed half-way: nothing can be said any more
                raise
            # An unexpected fault answers here, not in Starlette's outer error handler, so the 500 still carries
            # the request id: the page shows it as a reference, and support finds this log line by it.
            logger_errors.exception("unhandled error in %s %s", scope.get("method", ""), scope.get("path", ""),
                                    extra={"request_id": request_id})
            await send_with_id({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"application/json")]})
            await send_with_id({"type": "http.response.body", "body": json.dumps({
                "error": "ServerError",
                "detail": f"it has been logged (reference {request_id}), so nothing needs to be reported. "
                          "Please try again in a moment."}).encode()})
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            level = logging.ERROR if status >= 500 else logging.INFO
            logger.log(level, "%s %s %d", method, scope.get("path", ""), status,
                       extra={"request_id": request_id, "method": method, "path": scope.get("path", ""),
                              "route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)})
