"""Audio HTTP API: a track's stems, preview chunks and free clip downloads of a remix.

Rendering is CPU work, so these are plain ``def`` endpoints: FastAPI runs them in its thread pool and the
event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from remix.audio import service
from remix.audio.encode import AudioFormat
from remix.audio.errors import EncoderUnavailable, LicenceRequired, RemixSpecRejected
from remix.audio.licence import RenderUse
from remix.audio.schemas import TrackStemsOut
from remix.audio.service import RenderedExcerpt
from remix.audio.spec import RemixSpec
from remix.auth.deps import CurrentUser
from remix.db import SessionDep
from remix.errors import ConsentNotGranted, InvalidMedia, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api/tracks", tags=["audio"])

RENDER_ERRORS = error_responses(Unauthorized, NotFound, ConsentNotGranted, RemixSpecRejected, InvalidMedia,
                                EncoderUnavailable)
AUDIO_CONTENT: dict[str, dict[str, object]] = {"audio/mpeg": {}, "audio/ogg": {}, "audio/wav": {}}


def _audio_response(rendered: RenderedExcerpt, disposition: str) -> Response:
    headers = {
        "Content-Disposition": f'{disposition}; filename="{rendered.filename}"',
        "X-Remix-Spec-Sha256": rendered.spec_hash,
        "X-Remix-Audio-Sha256": rendered.audio_sha256,
        "X-Remix-Output-Seconds": f"{rendered.output_seconds:.3f}",
        "Cache-Control": "no-store",
    }
    if rendered.render_id is not None:
        headers["X-Remix-Render-Id"] = rendered.render_id
        if rendered.format == AudioFormat.opus:  # Ogg cannot embed C2PA: its signed manifest is a sidecar
            headers["X-Remix-Provenance-Sidecar"] = f"/api/provenance/renders/{rendered.render_id}/sidecar"
    return Response(content=rendered.content, media_type=rendered.media_type, headers=headers)


@router.get("/{track_id}/stems", response_model=TrackStemsOut, responses=error_responses(Unauthorized, NotFound))
def list_track_stems(track_id: int, session: SessionDep, _: CurrentUser) -> TrackStemsOut:
    """The stems a remix of this track can use: names, facts, and whether their artist currently allows
    previews, free clips and extended versions of each. No audio is returned."""
    return service.describe_stems(session, track_id)


@router.post(
    "/{track_id}/preview",
    response_class=Response,
    responses={200: {"content": AUDIO_CONTENT, "description": "The encoded preview chunk"}, **RENDER_ERRORS},
)
def render_preview(
    track_id: int,
    spec: RemixSpec,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    format: Annotated[Literal["opus", "mp3"], Query(description="Opus (smaller) or MP3")] = "opus",
) -> Response:
    """Render a short preview chunk of a remix (at most 10 s of output) while editing.

    Needs a live ``remix_preview`` grant on every stem that is audible in the spec."""
    rendered = service.render_excerpt(session, request.app.state.settings, user, track_id, spec,
                                      RenderUse.preview, AudioFormat(format))
    return _audio_response(rendered, "inline")


@router.post(
    "/{track_id}/clip",
    response_class=Response,
    responses={200: {"content": AUDIO_CONTENT, "description": "The clip as a download"},
               **RENDER_ERRORS, **error_responses(LicenceRequired)},
)
def render_clip(
    track_id: int,
    spec: RemixSpec,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    format: Annotated[AudioFormat, Query(description="wav (16-bit), mp3 (192 kbit/s) or opus (128 kbit/s)")] = (
        AudioFormat.mp3
    ),
) -> Response:
    """Download a free clip of a remix, named ``<track-title>-remix-<spec hash>.<format>``.

    Free clips are at most 30 s of output (tempo and loops count); a longer spec is refused with
    402 ``LicenceRequired``, never cut short. Needs a live ``download_clip`` grant on every audible stem.
    Every clip is stamped: an inaudible watermark carrying its render's 32-bit id and a signed C2PA
    manifest (WAV, MP3; Opus: a signed sidecar at the ``X-Remix-Provenance-Sidecar`` URL) naming the fan's
    render, the spec hash and the consent grants. ``X-Remix-Render-Id`` names the render,
    ``X-Remix-Spec-Sha256`` the spec, and ``X-Remix-Audio-Sha256`` the engine's unstamped audio, which is
    the same for the same spec (the stamped file itself is unique to each download)."""
    rendered = service.render_excerpt(session, request.app.state.settings, user, track_id, spec,
                                      RenderUse.clip, format)
    return _audio_response(rendered, "attachment")
