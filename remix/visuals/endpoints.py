"""Visual-model HTTP API: train on consented artwork, review samples, approve or reject, render frames."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import event
from sqlalchemy.orm import Session

from remix.auth.deps import ArtistUser, CurrentUser
from remix.auth.models import User
from remix.db import SessionDep
from remix.errors import (
    BadRequest,
    Conflict,
    ConsentNotGranted,
    Forbidden,
    InvalidMedia,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    error_responses,
)
from remix.provenance import render_paths
from remix.visuals import service
from remix.visuals.models import VisualModel
from remix.visuals.schemas import ModelRejectIn, PromptRulesIn, PromptRulesOut, RenderIn, TrainIn, VisualModelOut

router = APIRouter(prefix="/api", tags=["visual models"])

READ_ERRORS = error_responses(Unauthorized, NotFound)
REVIEW_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, BadRequest, ConsentNotGranted)
RENDER_ERRORS = error_responses(Unauthorized, NotFound, Conflict, ConsentNotGranted, BadRequest, InvalidMedia,
                                PayloadTooLarge, service.PromptRefused)


def _after_commit(session: Session, action: Any) -> None:
    # Background work starts only once the rows it reads are committed (and never if the request rolls back).
    event.listen(session, "after_commit", lambda _: action(), once=True)


@router.post("/albums/{album_id}/visual-models", response_model=VisualModelOut, status_code=202,
             responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, BadRequest, ConsentNotGranted))
def train_visual_model(album_id: int, body: TrainIn, request: Request, session: SessionDep,
                       user: ArtistUser) -> VisualModel:
    """Start training a visual model on this album's artwork — only artwork a live ``train_visual`` grant covers.

    Returns at once with status ``training``; poll ``GET /api/visual-models/{id}`` for progress and loss. The
    model then waits in ``awaiting_approval`` for you to look at its samples (or ends ``failed`` with its error).
    """
    settings = request.app.state.settings
    model = service.start_training(session, settings, user, album_id, preset=body.preset, steps=body.steps,
                                   seed=body.seed, base=body.base)
    factory, model_id = request.app.state.sessionmaker, model.id
    _after_commit(session, lambda: service.start_training_thread(factory, settings, model_id))
    return model


@router.get("/visual-models", response_model=list[VisualModelOut], responses=READ_ERRORS)
def list_visual_models(session: SessionDep, user: CurrentUser, album_id: int | None = None) -> list[VisualModel]:
    """Your artists' models in every status (admins: all); everyone sees live models."""
    return list(service.list_models_for(session, user, album_id))


@router.get("/visual-models/{model_id}", response_model=VisualModelOut, responses=READ_ERRORS)
def get_visual_model(model_id: int, session: SessionDep, user: CurrentUser) -> VisualModel:
    """A model's status, training progress and loss, manifest hash and the artwork it was trained on."""
    return service.get_model_for(session, user, model_id)


@router.get("/visual-models/{model_id}/samples.png", response_class=FileResponse, responses=READ_ERRORS)
def get_sample_grid(model_id: int, request: Request, session: SessionDep, user: CurrentUser) -> FileResponse:
    """The grid of sample frames (one column per training caption, one row per seed) to review before approving."""
    model = service.get_model_for(session, user, model_id)
    path = service.model_dir(request.app.state.settings, model.id) / "samples.png"
    if model.manifest_hash is None or not path.is_file():
        raise NotFound(f"visual model {model_id} has no samples yet ({model.status.value})")
    return FileResponse(path, media_type="image/png")


@router.get("/visual-models/{model_id}/manifest", responses=READ_ERRORS)
def get_training_manifest(model_id: int, request: Request, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """The training manifest: asset ids + sha256 + grant ids, seed, hyper-parameters, code version and checkpoint
    file hashes. Its sha256 over canonical JSON equals ``manifest_hash`` (checked before it is served)."""
    model = service.get_model_for(session, user, model_id)
    try:
        return service.verified_manifest(request.app.state.settings, model)
    except ValueError as exc:
        raise Conflict(str(exc)) from exc


@router.post("/visual-models/{model_id}/approve", response_model=VisualModelOut, responses=REVIEW_ERRORS)
def approve_visual_model(model_id: int, session: SessionDep, user: ArtistUser) -> VisualModel:
    """Approve a model awaiting approval: it goes ``live`` and fans can render with it."""
    return service.approve(session, user, model_id)


@router.post("/visual-models/{model_id}/reject", response_model=VisualModelOut, responses=REVIEW_ERRORS)
def reject_visual_model(model_id: int, body: ModelRejectIn, session: SessionDep, user: ArtistUser) -> VisualModel:
    """Reject a model awaiting approval, with a reason; it never renders."""
    return service.reject(session, user, model_id, body.reason)


@router.post("/visual-models/{model_id}/render", response_class=Response, responses={
    **RENDER_ERRORS, 200: {"content": {"image/png": {}}, "description": "The rendered frame"}})
def render_frame(model_id: int, body: RenderIn, request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """Render one preview frame (PNG) from a prompt, or from the previous frame + prompt (``init_image``, ``strength``).

    Only live models render; consent is re-checked on every call, so a revoked training grant stops rendering
    at once. Fans may render only while the album has a live ``remix_preview`` grant. Prompts naming blocked
    words, other catalog artists or a real person's likeness are refused with the reason. The frame is stamped
    like a download (watermark + C2PA manifest, ``X-Remix-Render-Id``); frames under 256 px a side are enlarged
    by a whole factor so they can carry the watermark. ``X-Remix-Frame-Sha256`` hashes the unstamped frame,
    which the same prompt, seed and model always reproduce.
    """
    return _stamped_frame(request, session, user, model_id, body, "preview_frame", "png", "inline")


@router.post("/visual-models/{model_id}/download", response_class=Response, responses={
    **RENDER_ERRORS, 200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "The visual as a file"}})
def download_visual(model_id: int, body: RenderIn, request: Request, session: SessionDep, user: CurrentUser,
                    format: Literal["png", "jpeg"] = "png") -> Response:
    """Download the current visual (the frame ``body`` describes, as on ``/render``) as a PNG or JPEG file.

    Same checks as ``/render``. The file carries an invisible watermark with its render's 32-bit id and a signed
    C2PA manifest naming the model, its training-manifest hash and the consent grants."""
    return _stamped_frame(request, session, user, model_id, body, "visual", format, "attachment")


def _stamped_frame(request: Request, session: Session, user: User, model_id: int, body: RenderIn, purpose: str,
                   output_format: Literal["png", "jpeg"], disposition: str) -> Response:
    settings = request.app.state.settings
    png = service.render(session, settings, user, model_id, service.RenderRequest(
        prompt=body.prompt, seed=body.seed, init_image=body.init_image, strength=body.strength, steps=body.steps,
        guidance_scale=body.guidance_scale, size=body.size))
    # Every frame that leaves the service is stamped (remix/provenance); the header keeps the unstamped hash,
    # which the same prompt, seed and model always reproduce.
    stamped = render_paths.stamp_frame(session, settings, user_id=user.id, model=service.get_model_for(
        session, user, model_id), frame_png=png, purpose=purpose, output_format=output_format)
    filename = f"visual-{model_id}-{stamped.render.public_id[:8]}.{'jpg' if output_format == 'jpeg' else 'png'}"
    return Response(stamped.data, media_type=stamped.media_type, headers={
        "Content-Disposition": f'{disposition}; filename="{filename}"',
        "X-Remix-Render-Id": stamped.render.public_id, "X-Remix-Frame-Sha256": hashlib.sha256(png).hexdigest(),
        "Cache-Control": "no-store"})


@router.get("/artists/{artist_id}/prompt-rules", response_model=PromptRulesOut,
            responses=error_responses(Unauthorized, Forbidden, NotFound))
def get_prompt_rules(artist_id: int, session: SessionDep, user: ArtistUser) -> PromptRulesOut:
    """The words and phrases refused in prompts for this artist's models."""
    return PromptRulesOut(artist_id=artist_id, blocked_words=service.get_prompt_rules(session, user, artist_id))


@router.put("/artists/{artist_id}/prompt-rules", response_model=PromptRulesOut,
            responses=error_responses(Unauthorized, Forbidden, NotFound, BadRequest))
def set_prompt_rules(artist_id: int, body: PromptRulesIn, session: SessionDep, user: ArtistUser) -> PromptRulesOut:
    """Replace the blocked words (whole words or phrases, any case) for this artist's models."""
    words = service.set_prompt_rules(session, user, artist_id, body.blocked_words)
    return PromptRulesOut(artist_id=artist_id, blocked_words=words)
