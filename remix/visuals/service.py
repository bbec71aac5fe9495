"""Visual-model rules: who may train on what, the review, rendering, and withdrawal when consent lapses.

Services never commit. The training job is the exception that proves the rule: it runs outside any request
(a background thread or the CLI) and opens its own short transactions, so progress is visible while it runs.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import Session, sessionmaker

from remix.audit import service as audit
from remix.auth.deps import ensure_acts_for
from remix.auth.models import Role, User
from remix.catalog import repository as catalog_repository
from remix.catalog.consent import check_use, grant_is_live
from remix.catalog.models import Album, Artist, Asset, ConsentGrant, Scope
from remix.catalog.storage import AssetStore
from remix.config import Settings
from remix.db import on_rollback, utcnow
from remix.errors import (
    BadRequest,
    Conflict,
    ConsentNotGranted,
    InvalidMedia,
    NotFound,
    PayloadTooLarge,
    RemixError,
)
from remix.scale.live_events import announce_after_commit
from remix.visuals import repository
from remix.visuals.manifest import (
    MANIFEST_FORMAT,
    checkpoint_hashes,
    code_version,
    file_sha256,
    read_verified_manifest,
    verify_checkpoint,
    write_manifest,
)
from remix.visuals.models import (
    ALLOWED_TRANSITIONS,
    PromptRules,
    VisualBase,
    VisualModel,
    VisualModelSource,
    VisualModelStatus,
)
from remix.visuals.operator_base import base_identity, check_base_dir
from remix.visuals.presets import PRESET_NAMES
from remix.visuals.prompt_rules import MAX_BLOCKED_WORDS, clean_blocked_words, judge_prompt

if TYPE_CHECKING:  # torch, diffusers and transformers load on first use, not when the app starts
    from remix.visuals.lora import LoraTrainingConfig
    from remix.visuals.pipeline import ArtworkDiffusionPipeline
    from remix.visuals.training import TrainingConfig, TrainingExample

logger = logging.getLogger(__name__)

MAX_INIT_IMAGE_BYTES = 4 * 1024 * 1024
MAX_TRAINING_STEPS = 20_000
# Statuses in which a model can still reach fans; a lapsed grant withdraws these at once.
ACTIVE_STATUSES = (VisualModelStatus.training, VisualModelStatus.awaiting_approval, VisualModelStatus.live)




class PromptRefused(RemixError):
    """The prompt breaks a prompt rule (empty, too long, a blocked word, another artist, a real person)."""

    status_code = 422


def model_dir(settings: Settings, model_id: int) -> Path:
    return settings.data_dir / "models" / str(model_id)


# ---------------------------------------------------------------------------------------------- status


def _move(session: Session, model: VisualModel, to: VisualModelStatus, *, actor_user_id: int | None,
          **details: Any) -> None:
    """The one place a status changes: checks the state machine and writes the audit event."""
    if to not in ALLOWED_TRANSITIONS[model.status]:
        raise Conflict(f"visual model {model.id} is {model.status.value}; it cannot become {to.value}")
    before = model.status
    model.status = to
    session.flush()
    audit.record(session, f"visual_model.{to.value}", "visual_model", model.id, actor_user_id=actor_user_id,
                 previous_status=before.value, album_id=model.album_id, manifest_hash=model.manifest_hash,
                 **details)


def _lapsed_grants(session: Session, model: VisualModel) -> list[int]:
    """Grants the model was trained under that no longer cover their use (revoked or expired)."""
    now = utcnow()
    lapsed = []
    for grant_id in model.grant_ids:
        grant = session.get(ConsentGrant, grant_id)
        if grant is None or not grant_is_live(grant, now):
            lapsed.append(grant_id)
    return lapsed


def _withdraw(session: Session, model: VisualModel, reason: str, *, actor_user_id: int | None) -> None:
    model.withdrawn_at = utcnow()
    model.withdrawal_reason = reason
    _move(session, model, VisualModelStatus.withdrawn, actor_user_id=actor_user_id, reason=reason)
    forget_pipeline(model.id)
    # Live sessions on every API process rendering with it stop once this commits, not at their next recheck;
    # whatever the cause (a revoked grant, a lapse found by a render, a grant that lapsed during training).
    announce_after_commit(session, "visual_model_withdrawn", model_id=model.id)


def withdraw_models_for_grant(session: Session, grant_id: int, *, actor_user_id: int | None = None
                              ) -> list[VisualModel]:
    """Withdraw at once every model whose training manifest cites ``grant_id`` (call when it is revoked).

    Models already failed, rejected or withdrawn are left as they are. Returns the models withdrawn.
    """
    withdrawn = []
    for model in repository.models_citing_grant(session, grant_id):
        if model.status in ACTIVE_STATUSES:
            _withdraw(session, model, f"consent grant {grant_id} was revoked", actor_user_id=actor_user_id)
            withdrawn.append(model)
    return withdrawn


def _refuse_lapsed(session: Session, model: VisualModel) -> None:
    """Refuse to use a model whose grants lapsed, and record its withdrawal even though the request fails.

    This is the safety net behind :func:`withdraw_models_for_grant`: consent is re-checked every time, so a
    revocation takes effect even if nothing called the hook.
    """
    lapsed = _lapsed_grants(session, model)
    if not lapsed:
        return
    model_id, bind = model.id, session.get_bind()

    def persist_withdrawal() -> None:
        with Session(bind=bind) as own, own.begin():
            fresh = own.get(VisualModel, model_id)
            if fresh is not None and fresh.status in ACTIVE_STATUSES:
                _withdraw(own, fresh, f"consent grant(s) {lapsed} no longer live", actor_user_id=None)

    on_rollback(session, persist_withdrawal)
    forget_pipeline(model_id)
    raise ConsentNotGranted(f"visual model {model_id} is withdrawn: the train_visual grant(s) {lapsed} it was "
                            "trained under are no longer live")


# ---------------------------------------------------------------------------------------------- training


def start_training(session: Session, settings: Settings, actor: User | None, album_id: int, *,
                   preset: str = "demo", steps: int | None = None, seed: int | None = None,
                   base: VisualBase = VisualBase.builtin) -> VisualModel:
    """Record a training run on the album's artwork that a live ``train_visual`` grant covers.

    Artwork without such a grant is left out (and listed in the audit event); with none at all the run is
    refused. ``actor`` None means the operator's CLI. The caller starts :func:`run_training` after commit.
    """
    album = catalog_repository.get_or_404(session, Album, album_id)
    if actor is not None:
        ensure_acts_for(actor, album.artist_id)
    if preset not in PRESET_NAMES:
        raise BadRequest(f"unknown preset '{preset}'; choose one of {sorted(PRESET_NAMES)}")
    if steps is not None and not 1 <= steps <= MAX_TRAINING_STEPS:
        raise BadRequest(f"steps must be 1–{MAX_TRAINING_STEPS}, got {steps}")
    if base is VisualBase.lora:
        check_base_dir(settings.visual_base_dir)  # refused here, with the setting named, not later in the job
    artwork = list(catalog_repository.album_artwork(session, album_id))
    if not artwork:
        raise BadRequest(f"album {album_id} has no artwork to train on; upload artwork first")
    decision = check_use(session, Scope.train_visual, [a.id for a in artwork])
    covered = [a for a in artwork if a.id in decision.grant_for_asset]
    if not covered:
        raise ConsentNotGranted(f"no artwork of album {album_id} has a live 'train_visual' consent grant; "
                                "grant train_visual on the album or its artwork first")
    untitled = [a.id for a in covered if not (a.caption.strip() or a.title.strip())]
    if untitled:
        raise BadRequest(f"artwork {untitled} has neither caption nor title; add a caption to train on")
    if repository.training_model_for_album(session, album_id) is not None:
        raise Conflict(f"a visual model for album {album_id} is already training; wait for it to finish")
    config = _training_config(base, preset, steps, seed)
    model = VisualModel(artist_id=album.artist_id, album_id=album.id, base=base, preset=preset,
                        status=VisualModelStatus.training, seed=config.seed, steps_total=config.steps, steps_done=0,
                        created_by=actor.id if actor else None, created_at=utcnow())
    session.add(model)
    session.flush()
    for asset in covered:
        session.add(VisualModelSource(model_id=model.id, asset_id=asset.id, asset_sha256=asset.sha256,
                                      grant_id=decision.grant_for_asset[asset.id],
                                      caption=asset.caption.strip() or asset.title.strip()))
    session.flush()
    session.refresh(model)
    audit.record(session, "visual_model.training", "visual_model", model.id,
                 actor_user_id=actor.id if actor else None, album_id=album.id, preset=preset, steps=config.steps,
                 seed=config.seed, asset_ids=[a.id for a in covered], grant_ids=model.grant_ids,
                 left_out_asset_ids=list(decision.uncovered))
    return model


def _training_config(base: VisualBase, preset: str, steps: int | None,
                     seed: int | None) -> TrainingConfig | LoraTrainingConfig:
    if base is VisualBase.lora:
        from remix.visuals.lora import LORA_PRESETS

        return LORA_PRESETS[preset].with_overrides(steps=steps, seed=seed)
    from remix.visuals.training import PRESETS

    return PRESETS[preset].with_overrides(steps=steps, seed=seed)


# One training at a time per process: the CPU is shared with rendering and the rest of the service.
_TRAINING_LOCK = threading.Lock()


@dataclass(frozen=True)
class TrainingOutcome:
    model_id: int
    status: VisualModelStatus
    manifest_hash: str | None
    error: str = ""


def run_training(factory: sessionmaker[Session], settings: Settings, model_id: int, *,
                 echo: Callable[[int, int, float], None] | None = None) -> TrainingOutcome:
    """The training job: read the consented artwork, train, write checkpoint + sample grid + manifest.

    The model ends ``awaiting_approval``; or ``failed`` with its error (never live); or stays ``withdrawn``
    if a grant was revoked meanwhile. Safe to call twice: a model no longer ``training`` is left alone.
    """
    with _TRAINING_LOCK:
        try:
            return _run_training(factory, settings, model_id, echo)
        except Exception as exc:  # every failure is recorded on the model; nothing half-done goes live
            logger.exception("training visual model %s failed", model_id)
            shutil.rmtree(model_dir(settings, model_id) / "checkpoint", ignore_errors=True)
            error = str(exc) or type(exc).__name__
            with factory.begin() as session:
                model = session.get(VisualModel, model_id)
                if model is None or model.status is not VisualModelStatus.training:
                    status = model.status if model else VisualModelStatus.failed
                    return TrainingOutcome(model_id, status, None, error)
                model.error = error[:2000]
                model.finished_at = utcnow()
                _move(session, model, VisualModelStatus.failed, actor_user_id=None, error=model.error)
            return TrainingOutcome(model_id, VisualModelStatus.failed, None, error)


def _load_examples(session: Session, settings: Settings, model: VisualModel) -> list[TrainingExample]:
    from remix.visuals.training import TrainingExample

    store = AssetStore(settings.asset_dir)
    examples = []
    for source in model.sources:
        asset = catalog_repository.get_or_404(session, Asset, source.asset_id)
        path = store.path_for(asset.storage_key)
        if not path.is_file() or file_sha256(path) != source.asset_sha256:
            raise ValueError(f"artwork {asset.id} is missing or no longer matches its recorded sha256")
        try:
            with Image.open(path) as opened:
                image = opened.convert("RGB")
        except (OSError, UnidentifiedImageError) as exc:
            raise ValueError(f"artwork {asset.id} cannot be decoded: {exc}") from exc
        examples.append(TrainingExample(image=image, caption=source.caption))
    return examples


def _run_training(factory: sessionmaker[Session], settings: Settings, model_id: int,
                  echo: Callable[[int, int, float], None] | None) -> TrainingOutcome:
    with factory() as session:
        model = session.get(VisualModel, model_id)
        if model is None:
            raise NotFound(f"visual model {model_id} does not exist")
        if model.status is not VisualModelStatus.training:
            return TrainingOutcome(model_id, model.status, model.manifest_hash)
        examples = _load_examples(session, settings, model)
        base = model.base
        config = _training_config(base, model.preset, model.steps_total, model.seed)
        sources = [{"asset_id": s.asset_id, "sha256": s.asset_sha256, "grant_id": s.grant_id, "caption": s.caption}
                   for s in model.sources]
        identity = {"model_id": model.id, "artist_id": model.artist_id, "album_id": model.album_id,
                    "base": model.base.value}

    report_every = max(1, config.steps // 50)
    stopped = threading.Event()

    def progress(step: int, total: int, loss: float) -> None:
        if echo is not None:
            echo(step, total, loss)
        if step % report_every and step != total:
            return
        with factory.begin() as s:
            row = s.get(VisualModel, model_id)
            if row is None or row.status is not VisualModelStatus.training:
                stopped.set()
                return
            row.steps_done, row.loss = step, loss

    out = model_dir(settings, model_id)
    checkpoint = out / "checkpoint"
    shutil.rmtree(checkpoint, ignore_errors=True)
    if base is VisualBase.lora:
        described = _train_lora(settings, examples, config, checkpoint, out / "samples.png", progress, stopped)
    else:
        described = _train_builtin(examples, config, checkpoint, out / "samples.png", progress, stopped)
    with factory() as session:
        final_loss = session.get(VisualModel, model_id).loss  # type: ignore[union-attr]
    manifest = {
        "format": MANIFEST_FORMAT,
        **identity,
        "training_data": sources,
        "seed": config.seed,
        "hyper_parameters": config.to_json(),
        **described,
        "code_version": code_version(),
        "checkpoint": {"files": checkpoint_hashes(checkpoint)},
        "final_loss": final_loss,
    }
    digest = write_manifest(out / "manifest.json", manifest)
    with factory.begin() as session:
        model = session.get(VisualModel, model_id)
        if model is None or model.status is not VisualModelStatus.training:
            return TrainingOutcome(model_id, model.status if model else VisualModelStatus.failed, digest)
        model.manifest_hash = digest
        model.finished_at = utcnow()
        model.steps_done = model.steps_total
        lapsed = _lapsed_grants(session, model)
        if lapsed:
            _withdraw(session, model, f"consent grant(s) {lapsed} lapsed during training", actor_user_id=None)
        else:
            _move(session, model, VisualModelStatus.awaiting_approval, actor_user_id=None, final_loss=final_loss)
        return TrainingOutcome(model_id, model.status, digest)


def _train_builtin(examples: list[TrainingExample], config: Any, checkpoint: Path, samples: Path,
                   progress: Callable[[int, int, float], None], stopped: threading.Event) -> dict[str, Any]:
    """Train the built-in model from scratch; returns what the manifest says about its text encoder."""
    from remix.visuals.text_encoder import load_sentence_encoder
    from remix.visuals.training import sample_grid, save_checkpoint, train_from_scratch

    encoder = load_sentence_encoder()
    pipeline = train_from_scratch(examples, config, encoder, progress=progress, should_stop=stopped.is_set)
    save_checkpoint(pipeline, checkpoint, config)
    sample_grid(pipeline, [e.caption for e in examples]).save(samples)
    return {"text_encoder": encoder.identity}


def _train_lora(settings: Settings, examples: list[TrainingExample], config: Any, checkpoint: Path, samples: Path,
                progress: Callable[[int, int, float], None], stopped: threading.Event) -> dict[str, Any]:
    """Train a LoRA on the operator base; the checkpoint is the adapter alone. Returns the manifest's record of
    the base (directory name and every file's sha256) and of the LoRA (rank, alpha, target modules)."""
    from remix.visuals.lora import save_adapter, train_lora
    from remix.visuals.training import sample_grid

    identity = base_identity(settings.visual_base_dir)
    trained = train_lora(identity, examples, config, progress=progress, should_stop=stopped.is_set)
    save_adapter(trained.weights, checkpoint, config, identity, trained.image_size)
    sample_grid(trained.pipeline, [e.caption for e in examples]).save(samples)
    return {
        "base_pipeline": identity.to_json(),
        "lora": {"rank": config.rank, "alpha": config.alpha, "target_modules": list(config.target_modules),
                 "image_size": trained.image_size, "library": "peft"},
        "text_encoder": trained.pipeline.text_encoder.identity,
    }


def fail_interrupted_training(session: Session) -> list[int]:
    """Mark ``failed`` every model left ``training`` by a process that died (call once at start-up, before any
    training starts). Returns their ids."""
    interrupted = list(repository.list_models(session, statuses=[VisualModelStatus.training]))
    for model in interrupted:
        model.error, model.finished_at = "training was interrupted (the server stopped); start it again", utcnow()
        _move(session, model, VisualModelStatus.failed, actor_user_id=None, error=model.error)
    return [m.id for m in interrupted]


def import_trained_model(session: Session, settings: Settings, actor: User | None, album_id: int,
                         source_dir: Path) -> VisualModel:
    """Register a model that ``remix train`` produced elsewhere (e.g. the shipped demo checkpoint in ``models/``).

    ``source_dir`` holds ``manifest.json``, ``checkpoint/`` and ``samples.png``. Every artwork the manifest lists
    must be artwork of this album with the same sha256 *and* a live ``train_visual`` grant now; the model is
    bound to those grants (so revoking one withdraws it) and lands ``awaiting_approval`` like any trained model.
    """
    album = catalog_repository.get_or_404(session, Album, album_id)
    if actor is not None:
        ensure_acts_for(actor, album.artist_id)
    try:
        manifest = json.loads((source_dir / "manifest.json").read_text())
        verify_checkpoint(source_dir / "checkpoint", manifest)
    except (OSError, ValueError, KeyError) as exc:
        raise BadRequest(f"{source_dir} is not a complete, unaltered trained model: {exc}") from exc
    from remix.visuals.manifest import manifest_hash

    if manifest.get("base") == VisualBase.lora.value:  # an adapter is only ever used on the base it was trained on
        trained_on = manifest.get("base_pipeline", {})
        configured = base_identity(settings.visual_base_dir)
        if trained_on.get("sha256") != configured.sha256:
            raise BadRequest(f"this LoRA was trained on base '{trained_on.get('dir_name')}', not on the base in "
                             f"REMIX_VISUAL_BASE_DIR ('{configured.dir_name}', sha256 {configured.sha256[:12]}…)")
    by_hash = {a.sha256: a for a in catalog_repository.album_artwork(session, album_id)}
    listed = manifest.get("training_data", [])
    missing = [d["sha256"][:12] for d in listed if d["sha256"] not in by_hash]
    if not listed or missing:
        raise BadRequest(f"album {album_id} lacks the artwork this model was trained on (sha256 {missing})")
    assets = [by_hash[d["sha256"]] for d in listed]
    decision = check_use(session, Scope.train_visual, [a.id for a in assets])
    if not decision.allowed:
        raise ConsentNotGranted(f"no live 'train_visual' grant covers artwork {list(decision.uncovered)}")
    hyper = manifest["hyper_parameters"]
    model = VisualModel(artist_id=album.artist_id, album_id=album.id, base=VisualBase(manifest["base"]),
                        preset=hyper["preset"], status=VisualModelStatus.training, seed=manifest["seed"],
                        steps_total=hyper["steps"], steps_done=hyper["steps"], loss=manifest.get("final_loss"),
                        created_by=actor.id if actor else None, created_at=utcnow(), finished_at=utcnow(),
                        manifest_hash=manifest_hash(manifest))
    session.add(model)
    session.flush()
    for entry, asset in zip(listed, assets, strict=True):
        session.add(VisualModelSource(model_id=model.id, asset_id=asset.id, asset_sha256=asset.sha256,
                                      grant_id=decision.grant_for_asset[asset.id], caption=entry["caption"]))
    target = model_dir(settings, model.id)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source_dir, target, ignore=shutil.ignore_patterns("model_card.json"))
    on_rollback(session, lambda: shutil.rmtree(target, ignore_errors=True))
    session.flush()
    session.refresh(model)
    audit.record(session, "visual_model.imported", "visual_model", model.id,
                 actor_user_id=actor.id if actor else None, album_id=album.id, source=str(source_dir),
                 grant_ids=model.grant_ids)
    _move(session, model, VisualModelStatus.awaiting_approval, actor_user_id=actor.id if actor else None)
    return model


def start_training_thread(factory: sessionmaker[Session], settings: Settings, model_id: int) -> threading.Thread:
    """Run :func:`run_training` in a daemon thread (call only after the model row is committed)."""
    thread = threading.Thread(target=run_training, args=(factory, settings, model_id),
                              name=f"train-visual-model-{model_id}", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------------------------------------- review


def get_model_for(session: Session, user: User, model_id: int) -> VisualModel:
    """A model its artist's accounts and admins can always see; fans only while it is live."""
    model = session.get(VisualModel, model_id)
    if model is None or not (_owns(user, model) or model.status is VisualModelStatus.live):
        raise NotFound(f"visual model {model_id} does not exist")
    return model


def list_models_for(session: Session, user: User, album_id: int | None) -> Sequence[VisualModel]:
    if user.role == Role.admin:
        return repository.list_models(session, album_id=album_id)
    own = list(repository.list_models(session, album_id=album_id, artist_ids=user.artist_ids))
    live = repository.list_models(session, album_id=album_id, statuses=[VisualModelStatus.live])
    seen = {m.id for m in own}
    return sorted(own + [m for m in live if m.id not in seen], key=lambda m: m.id)


def _owns(user: User, model: VisualModel) -> bool:
    return user.role == Role.admin or model.artist_id in user.artist_ids


def approve(session: Session, actor: User, model_id: int) -> VisualModel:
    """The artist has seen the samples and lets the model go live."""
    model = catalog_repository.get_or_404(session, VisualModel, model_id)
    ensure_acts_for(actor, model.artist_id)
    if model.status is VisualModelStatus.awaiting_approval:
        _refuse_lapsed(session, model)
    model.reviewed_by, model.reviewed_at = actor.id, utcnow()
    _move(session, model, VisualModelStatus.live, actor_user_id=actor.id)
    return model


def reject(session: Session, actor: User, model_id: int, reason: str) -> VisualModel:
    """The artist turns the model down; it never renders. The reason is kept."""
    model = catalog_repository.get_or_404(session, VisualModel, model_id)
    ensure_acts_for(actor, model.artist_id)
    if not reason.strip():
        raise BadRequest("give a reason for rejecting the model")
    model.reviewed_by, model.reviewed_at, model.rejection_reason = actor.id, utcnow(), reason.strip()
    _move(session, model, VisualModelStatus.rejected, actor_user_id=actor.id, reason=model.rejection_reason)
    return model


def verified_manifest(settings: Settings, model: VisualModel) -> dict[str, Any]:
    if model.manifest_hash is None:
        raise NotFound(f"visual model {model.id} has no manifest yet ({model.status.value})")
    try:
        return read_verified_manifest(model_dir(settings, model.id) / "manifest.json", model.manifest_hash)
    except FileNotFoundError as exc:
        raise NotFound(f"the manifest of visual model {model.id} is missing from storage") from exc


# ---------------------------------------------------------------------------------------------- prompt rules


def get_prompt_rules(session: Session, actor: User, artist_id: int) -> list[str]:
    catalog_repository.get_or_404(session, Artist, artist_id)
    ensure_acts_for(actor, artist_id)
    return _blocked_words(session, artist_id)


def _blocked_words(session: Session, artist_id: int) -> list[str]:
    rules = repository.prompt_rules(session, artist_id)
    return list(json.loads(rules.blocked_words)) if rules else []


def set_prompt_rules(session: Session, actor: User, artist_id: int, blocked_words: Sequence[str]) -> list[str]:
    """Replace the artist's blocked words (whole words or phrases, any case)."""
    catalog_repository.get_or_404(session, Artist, artist_id)
    ensure_acts_for(actor, artist_id)
    words = clean_blocked_words(blocked_words)
    if len(words) > MAX_BLOCKED_WORDS:
        raise BadRequest(f"at most {MAX_BLOCKED_WORDS} blocked words, got {len(words)}")
    rules = repository.prompt_rules(session, artist_id)
    if rules is None:
        rules = PromptRules(artist_id=artist_id)
        session.add(rules)
    rules.blocked_words = json.dumps(words)
    rules.updated_by, rules.updated_at = actor.id, utcnow()
    session.flush()
    audit.record(session, "visual.prompt_rules_set", "artist", artist_id, actor_user_id=actor.id,
                 blocked_words=words)
    return words


def check_prompt(session: Session, model: VisualModel, prompt: str) -> None:
    """Raise :class:`PromptRefused` with the reason if ``prompt`` may not be rendered by ``model``."""
    own = catalog_repository.get_or_404(session, Artist, model.artist_id).name
    verdict = judge_prompt(prompt, own_artist=own, other_artists=repository.artist_names(session),
                           blocked_words=_blocked_words(session, model.artist_id))
    if not verdict.allowed:
        raise PromptRefused(verdict.reason)


# ---------------------------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class RenderRequest:
    prompt: str
    seed: int = 0
    init_image: str | None = None  # base64 PNG/JPEG/WebP: the previous frame
    strength: float = 0.5
    steps: int = 4
    guidance_scale: float = 1.0
    size: int = 256


def _decode_init_image(data: str) -> Image.Image:
    try:
        raw = base64.b64decode(data.split(",", 1)[-1] if data.startswith("data:") else data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidMedia("init_image is not valid base64") from exc
    if len(raw) > MAX_INIT_IMAGE_BYTES:
        raise PayloadTooLarge(f"init_image is larger than {MAX_INIT_IMAGE_BYTES // (1024 * 1024)} MiB")
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            if opened.format not in {"PNG", "JPEG", "WEBP"}:
                raise InvalidMedia(f"init_image must be PNG, JPEG or WebP, not {opened.format}")
            if opened.width * opened.height > 4096 * 4096:
                raise PayloadTooLarge("init_image has too many pixels")
            return opened.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise InvalidMedia(f"init_image cannot be decoded as an image: {exc}") from exc


def authorize_render(session: Session, user: User, model_id: int) -> VisualModel:
    """Only live models render; never once a training grant lapsed; fans only while the album is previewable."""
    model = get_model_for(session, user, model_id)
    if model.status is not VisualModelStatus.live:
        raise Conflict(f"visual model {model_id} is {model.status.value}; only live (artist-approved) models render")
    _refuse_lapsed(session, model)
    if not _owns(user, model):
        asset_ids = [s.asset_id for s in model.sources]
        if not check_use(session, Scope.remix_preview, asset_ids).allowed:
            raise ConsentNotGranted("the artist has not released this album for fan previews "
                                    "(no live remix_preview grant)")
    return model


def render(session: Session, settings: Settings, user: User, model_id: int, request: RenderRequest) -> bytes:
    """Render one frame as PNG bytes after the consent, approval and prompt checks."""
    model = authorize_render(session, user, model_id)
    check_prompt(session, model, request.prompt)
    init = _decode_init_image(request.init_image) if request.init_image else None
    pipeline = pipeline_for(settings, model)
    import torch

    generator = torch.Generator().manual_seed(request.seed)
    try:
        frame = pipeline(request.prompt, init, strength=request.strength, num_inference_steps=request.steps,
                         guidance_scale=request.guidance_scale, generator=generator, output_size=request.size)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    buffer = io.BytesIO()
    frame.images[0].save(buffer, format="PNG")
    return buffer.getvalue()


_PIPELINES: OrderedDict[int, tuple[str, ArtworkDiffusionPipeline]] = OrderedDict()
_PIPELINES_LOCK = threading.Lock()
_MAX_LOADED = 4


def adapter_name(model_id: int) -> str:
    return f"model_{model_id}"


def pipeline_for(settings: Settings, model: VisualModel) -> ArtworkDiffusionPipeline:
    """The model's pipeline, loaded once per process after verifying manifest and checkpoint hashes.

    A ``lora`` model is a view of the one shared operator base with the model's adapter, which is attached to
    the base's UNet by name; loading it never reloads the base.
    """
    if model.manifest_hash is None:
        raise Conflict(f"visual model {model.id} has no checkpoint")
    with _PIPELINES_LOCK:
        cached = _PIPELINES.get(model.id)
        if cached is not None and cached[0] == model.manifest_hash:
            _PIPELINES.move_to_end(model.id)
            return cached[1]
        manifest = verified_manifest(settings, model)
        checkpoint = model_dir(settings, model.id) / "checkpoint"
        try:
            verify_checkpoint(checkpoint, manifest)
        except ValueError as exc:
            raise Conflict(f"visual model {model.id} cannot be loaded: {exc}") from exc
        if model.base is VisualBase.lora:
            pipeline = _load_lora(settings, model, checkpoint)
        else:
            pipeline = _load_builtin(checkpoint)
        _PIPELINES[model.id] = (model.manifest_hash, pipeline)
        while len(_PIPELINES) > _MAX_LOADED:
            _PIPELINES.popitem(last=False)  # a LoRA view's adapter stays attached to the base (bounded there)
        return pipeline


def _load_builtin(checkpoint: Path) -> ArtworkDiffusionPipeline:
    from remix.visuals.text_encoder import load_sentence_encoder
    from remix.visuals.training import load_checkpoint

    return load_checkpoint(checkpoint, load_sentence_encoder())


def _load_lora(settings: Settings, model: VisualModel, checkpoint: Path) -> ArtworkDiffusionPipeline:
    from remix.visuals.lora import load_adapter, shared_base

    identity = base_identity(settings.visual_base_dir)  # BaseNotConfigured (400) if the base went away
    try:
        adapter = load_adapter(checkpoint, adapter_name(model.id), identity)
    except ValueError as exc:
        raise Conflict(f"visual model {model.id} cannot be loaded: {exc}") from exc
    return shared_base(identity).pipeline(adapter)


def forget_pipeline(model_id: int) -> None:
    with _PIPELINES_LOCK:
        cached = _PIPELINES.pop(model_id, None)
    base = getattr(cached[1], "base", None) if cached else None
    if base is not None:  # a withdrawn LoRA leaves the shared base at once
        base.drop_adapter(adapter_name(model_id))
