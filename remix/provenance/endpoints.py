"""Verify endpoints (rights team and public) and catalog fingerprinting.

The rights team uses the ``admin`` role: the project has no separate rights role, and a full report
names fans, licences and grants, which only admins may see. Finance is not admitted (it needs no
personal data of fans to do its work).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile

from remix.auth.deps import AdminUser, CurrentUser, OptionalUser
from remix.auth.models import Role
from remix.config import Settings
from remix.db import SessionDep
from remix.errors import (
    BadRequest,
    InvalidMedia,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMedia,
    error_responses,
)
from remix.provenance import repository, service
from remix.provenance.schemas import FingerprintResult, PublicVerificationReport, VerificationReport

router = APIRouter(prefix="/api/provenance", tags=["provenance"])
CHUNK = 1024 * 1024
MAX_SIDECAR_BYTES = 256 * 1024
VERIFY_ERRORS = error_responses(BadRequest, PayloadTooLarge, UnsupportedMedia, InvalidMedia)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _read_limited(upload: UploadFile, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the {what} is larger than the {limit // (1024 * 1024)} MiB limit")
        chunks.append(chunk)
    if size == 0:
        raise BadRequest(f"the {what} is empty")
    return b"".join(chunks)


async def _inputs(
    request: Request, file: UploadFile, sidecar: UploadFile | None
) -> tuple[bytes, dict[str, Any] | None]:
    settings = _settings(request)
    data = await _read_limited(file, max(settings.max_audio_bytes, settings.max_image_bytes), "file")
    manifest: dict[str, Any] | None = None
    if sidecar is not None:
        try:
            manifest = json.loads(await _read_limited(sidecar, MAX_SIDECAR_BYTES, "sidecar manifest"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("the sidecar manifest is not JSON") from exc
        if not isinstance(manifest, dict):
            raise BadRequest("the sidecar manifest must be a JSON object")
    return data, manifest


@router.post("/verify", response_model=VerificationReport, responses=VERIFY_ERRORS)
async def verify(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    file: Annotated[UploadFile, File(description="The audio or image file to check")],
    sidecar: Annotated[UploadFile | None, File(description="Signed sidecar manifest (Opus outputs)")] = None,
) -> VerificationReport:
    """Rights team: is this file a licensed output of the service, a tampered one, or an unlicensed copy?

    Reports the watermark (and the render, fan, licence and grants it names), the manifest's validity,
    consent as it stands now, catalog matches ("matches track X at offset T") and, for suspected copies,
    forged watermarks and tampered files, an evidence report a takedown notice can cite.
    """
    data, manifest = await _inputs(request, file, sidecar)
    return service.verify_upload(session, _settings(request), data=data, sidecar=manifest, actor_user_id=user.id)


@router.post("/verify/public", response_model=PublicVerificationReport, responses=VERIFY_ERRORS)
async def verify_public(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    file: Annotated[UploadFile, File(description="The audio or image file to check")],
    sidecar: Annotated[UploadFile | None, File(description="Signed sidecar manifest (Opus outputs)")] = None,
) -> PublicVerificationReport:
    """Anyone (logged in or not): is this an authentic output of the service, and is it licensed?

    Answers without naming fans, grants or licences.
    """
    data, manifest = await _inputs(request, file, sidecar)
    report = service.verify_upload(session, _settings(request), data=data, sidecar=manifest,
                                   actor_user_id=user.id if user else None)
    return service.public_report(report)


@router.post("/catalog-fingerprints", response_model=list[FingerprintResult])
def fingerprint_catalog(request: Request, session: SessionDep, user: AdminUser,
                        force: bool = False) -> list[FingerprintResult]:
    """Compute the Chromaprint fingerprint of every track's full mix (tracks whose stems changed, or all with force)."""
    return service.fingerprint_catalog(session, _settings(request), force=force)


@router.get("/renders/{render_id}/sidecar", responses=error_responses(Unauthorized, NotFound))
def render_sidecar(render_id: str, request: Request, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """The signed sidecar manifest of an Opus render (formats C2PA cannot embed in), for its fan or an admin.

    Upload it with the file to ``/verify`` (field ``sidecar``) to have the manifest checked."""
    render = repository.render_by_public_id(session, render_id)
    if render is None or render.manifest_kind != "sidecar" or (
            render.user_id != user.id and user.role != Role.admin):
        raise NotFound(f"render {render_id} has no sidecar manifest you can read")
    return service.sidecar_for(_settings(request), render)
