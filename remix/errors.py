"""One error type for every refusal the service makes, rendered as ``{"error": ..., "detail": ...}``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException


class RemixError(Exception):
    """A refusal a client can act on. Subclasses fix the HTTP status."""

    status_code = 400

    def __init__(self, detail: str, *, status_code: int | None = None, facts: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # Machine-readable facts sent beside ``detail`` in the body (e.g. the asset ids support needs), so the
        # sentence itself can stay in words a person understands.
        self.facts = facts or {}
        if status_code is not None:
            self.status_code = status_code


class BadRequest(RemixError):
    status_code = 400


class Unauthorized(RemixError):
    status_code = 401


class Forbidden(RemixError):
    status_code = 403


class ConsentNotGranted(RemixError):
    """No live consent grant covers the requested use of an asset (the body also names ``scope`` and ``asset_ids``)."""

    status_code = 403


class NotFound(RemixError):
    status_code = 404


class Conflict(RemixError):
    status_code = 409


class PayloadTooLarge(RemixError):
    status_code = 413


class UnsupportedMedia(RemixError):
    """The upload is not the kind of file it claims to be (or not a kind we accept)."""

    status_code = 415


class InvalidMedia(RemixError):
    """The upload claims the right kind but cannot be decoded whole (truncated or corrupt)."""

    status_code = 422




def error_responses(*errors: type[RemixError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the errors an endpoint can raise."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = out.setdefault(err.status_code, {"description": ""})
        names = [n for n in entry["description"].split(", ") if n]
        names.append(err.__name__)
        entry["description"] = ", ".join(names)
        entry["content"] = {
            "application/json": {
                "example": {"error": err.__name__, "detail": (err.__doc__ or err.__name__).strip()}
            }
        }
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RemixError)
    async def _remix_error(_: Request, exc: RemixError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(
            {**exc.facts, "error": type(exc).__name__, "detail": exc.detail}, status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse(
            {"error": "ValidationError", "detail": "; ".join(problems), "problems": jsonable(exc.errors())},
            status_code=422,
        )

    # PostgreSQL refuses values its column types cannot hold (an id past 2**31, an over-long string) that
    # SQLite would have stored; that is bad input, not a server fault. The transaction is already rolled back.
    @app.exception_handler(DataError)
    async def _data_error(_: Request, exc: DataError) -> JSONResponse:
        problem = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "invalid value"
        return JSONResponse({"error": "BadRequest", "detail": f"a value does not fit the database: {problem}"},
                            status_code=400)

    # Routing refusals (no such path, wrong method) come from Starlette; give them the same shape.
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        try:
            kind = "".join(word.capitalize() for word in HTTPStatus(exc.status_code).phrase.replace("-", " ").split())
        except ValueError:
            kind = "HTTPError"
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"there is no {request.url.path}; the API is listed at /docs"
        elif exc.status_code == 405:
            allowed = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "")
            detail = f"{request.method} is not allowed on {request.url.path}" + (f"; use {allowed}" if allowed else "")
        return JSONResponse({"error": kind, "detail": detail}, status_code=exc.status_code, headers=exc.headers)


def jsonable(errors: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors, custom_encoder={Exception: str, bytes: lambda b: "<bytes>"})
