"""Stamping every output with a watermark and a signed manifest, and verifying files brought to us.

The render paths (through :mod:`remix.provenance.render_paths`) call :func:`stamp_audio_render` (clips,
paid downloads) and :func:`stamp_image` (visual downloads, preview frames) right before handing bytes
to a fan; each writes one :class:`Render` row in the caller's transaction and returns the bytes to serve.

Revocation semantics
--------------------
Consent is checked when a render is made (the caller passes the grant ids ``require_use`` returned).
A :class:`Render` row is never changed afterwards, so a file stays provably *licensed at render time*
even after an artist revokes a grant. Verification reports both facts ("licensed at render time;
consent since revoked on <date>") and decides what may follow:

* **free clips** (no licence id) were shared on the strength of the live grant alone: once any grant
  they relied on is revoked or expired, ``takedown_eligible`` is true, and the rights team may ask
  platforms to remove copies made before the revocation;
* **paid renders** (a licence id) were sold under a live grant; the licence's terms continue for the
  copy already sold, so ``takedown_eligible`` stays false (no new copies are rendered: ``require_use``
  refuses them);
* files that match the catalog without a valid watermark are always ``takedown_eligible``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from sqlalchemy.orm import Session

from remix import __version__
from remix.audit import service as audit
from remix.catalog.consent import grant_is_live
from remix.catalog.storage import AssetStore
from remix.config import Settings
from remix.db import utcnow
from remix.errors import BadRequest
from remix.provenance import audio_watermark, image_watermark, repository
from remix.provenance.config import ProvenanceSettings
from remix.provenance.fingerprint import (
    CatalogMatch,
    FingerprintError,
    fingerprint_file,
    match_catalog,
    mix_stems,
)
from remix.provenance.keys import signing_credentials
from remix.provenance.manifest import (
    C2PA_FORMATS,
    ManifestCheck,
    ManifestState,
    embed_c2pa,
    read_c2pa,
    sign_sidecar,
    verify_sidecar,
)
from remix.provenance.media import (
    ANALYSIS_RATE,
    AUDIO_MEDIA_TYPES,
    IMAGE_MEDIA_TYPES,
    AudioFormat,
    ImageFormat,
    decode_audio_file,
    decode_image,
    encode_audio,
    encode_image,
    sniff,
)
from remix.provenance.models import CatalogFingerprint, Render, RenderKind
from remix.provenance.schemas import (
    CatalogMatchReport,
    ConsentStatus,
    FingerprintResult,
    ManifestReport,
    PublicVerificationReport,
    RenderReport,
    Verdict,
    VerificationReport,
    WatermarkReport,
)

PURPOSES = ("clip", "paid_render", "visual", "preview_frame")


@dataclass(frozen=True)
class RenderFacts:
    """What a render was made from and under which permissions (all cited in its manifest)."""

    purpose: str
    user_id: int | None
    track_id: int | None = None
    album_id: int | None = None
    spec_hash: str | None = None
    model_id: int | None = None
    training_manifest_hash: str | None = None
    grant_ids: Sequence[int] = field(default_factory=tuple)
    licence_id: int | None = None

    def __post_init__(self) -> None:
        if self.purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {PURPOSES}, not {self.purpose!r}")


@dataclass(frozen=True)
class StampedOutput:
    """The bytes to serve, their media type, the provenance record and (Opus only) the signed sidecar."""

    data: bytes
    media_type: str
    render: Render
    sidecar: dict[str, Any] | None


def _new_watermark_id(session: Session) -> int:
    while True:
        candidate = secrets.randbelow(2**32 - 1) + 1
        if not repository.watermark_id_taken(session, candidate):
            return candidate


def _assertion(public_id: str, watermark_id: int, kind: RenderKind, facts: RenderFacts,
               issued_at: datetime) -> dict[str, Any]:
    return {
        "render_id": public_id, "watermark_id": watermark_id, "kind": kind.value, "purpose": facts.purpose,
        "track_id": facts.track_id, "album_id": facts.album_id, "spec_hash": facts.spec_hash,
        "model_id": facts.model_id, "training_manifest_hash": facts.training_manifest_hash,
        "consent_grant_ids": sorted(int(g) for g in facts.grant_ids), "licence_id": facts.licence_id,
        "issued_at": issued_at.isoformat(), "issuer": "remix",
    }


def _record(session: Session, *, public_id: str, watermark_id: int, kind: RenderKind, facts: RenderFacts,
            output_format: str, data: bytes, manifest_kind: str, issued_at: datetime,
            size: tuple[int, int] | None = None) -> Render:
    render = Render(
        public_id=public_id, watermark_id=watermark_id, kind=kind, purpose=facts.purpose, user_id=facts.user_id,
        track_id=facts.track_id, album_id=facts.album_id, spec_hash=facts.spec_hash, model_id=facts.model_id,
        training_manifest_hash=facts.training_manifest_hash,
        grant_ids_json=json.dumps(sorted(int(g) for g in facts.grant_ids)), licence_id=facts.licence_id,
        output_format=output_format, output_sha256=hashlib.sha256(data).hexdigest(), manifest_kind=manifest_kind,
        width=size[0] if size else None, height=size[1] if size else None, created_at=issued_at,
    )
    session.add(render)
    session.flush()
    return render


AudioEncoder = Callable[[npt.NDArray[np.float32]], bytes]
# Encodes audio that arrives as consecutive (frames, channels) blocks (an MP3 stream, for one).
AudioBlockEncoder = Callable[[Iterator[npt.NDArray[np.float32]]], bytes]


def stamp_audio_render(session: Session, settings: Settings, *, audio: npt.NDArray[np.floating], sample_rate: int,
                       facts: RenderFacts, output_format: AudioFormat = "mp3", bitrate: str | None = None,
                       encoder: AudioEncoder | None = None,
                       provenance: ProvenanceSettings | None = None) -> StampedOutput:
    """Watermark ``audio`` (``(frames, channels)`` float in −1..1), encode it and attach a signed manifest.

    ``encoder`` turns the watermarked audio into ``output_format`` bytes (the audio engine passes its own
    encoders, so a stamped clip is encoded exactly like an unstamped one); without it ffmpeg encodes.
    WAV and MP3 carry an embedded C2PA manifest; Opus gets a signed sidecar (``StampedOutput.sidecar``)
    to serve beside it. Raises :class:`BadRequest` for audio too short to carry a watermark.
    """
    def marked_bytes(watermark_id: int) -> bytes:
        marked = audio_watermark.embed(np.asarray(audio, dtype=np.float32), sample_rate, watermark_id)
        return encoder(marked) if encoder is not None else encode_audio(marked, sample_rate, output_format, bitrate)

    return _stamp_audio(session, settings, facts=facts, output_format=output_format, provenance=provenance,
                        marked_bytes=marked_bytes)


def stamp_audio_stream(session: Session, settings: Settings, *, blocks: Iterable[npt.NDArray[np.floating]],
                       sample_rate: int, facts: RenderFacts, output_format: AudioFormat, encoder: AudioBlockEncoder,
                       provenance: ProvenanceSettings | None = None) -> StampedOutput:
    """:func:`stamp_audio_render` for audio that arrives block by block (the audio engine's stream).

    Each block is watermarked as soon as the mark over it is final (:func:`audio_watermark.embed_blocks`, the
    same samples as marking the whole) and handed to ``encoder``, so the encode runs beside the render.
    """
    return _stamp_audio(session, settings, facts=facts, output_format=output_format, provenance=provenance,
                        marked_bytes=lambda watermark_id: encoder(
                            audio_watermark.embed_blocks(blocks, sample_rate, watermark_id)))


def _stamp_audio(session: Session, settings: Settings, *, facts: RenderFacts, output_format: AudioFormat,
                 provenance: ProvenanceSettings | None, marked_bytes: Callable[[int], bytes]) -> StampedOutput:
    provenance = provenance or ProvenanceSettings()
    public_id, watermark_id, issued_at = str(uuid.uuid4()), _new_watermark_id(session), utcnow()
    try:
        data = marked_bytes(watermark_id)
    except audio_watermark.AudioWatermarkError as exc:
        raise BadRequest(str(exc)) from exc
    assertion = _assertion(public_id, watermark_id, RenderKind.audio, facts, issued_at)
    credentials = signing_credentials(settings, provenance)
    sidecar = None
    if output_format in C2PA_FORMATS:
        data = embed_c2pa(data, output_format, assertion, credentials, generated=False,
                          timestamp_url=provenance.timestamp_url)
        manifest_kind = "c2pa"
    else:
        sidecar = sign_sidecar(assertion, hashlib.sha256(data).hexdigest(), AUDIO_MEDIA_TYPES[output_format],
                               credentials)
        manifest_kind = "sidecar"
    render = _record(session, public_id=public_id, watermark_id=watermark_id, kind=RenderKind.audio, facts=facts,
                     output_format=output_format, data=data, manifest_kind=manifest_kind, issued_at=issued_at)
    return StampedOutput(data, AUDIO_MEDIA_TYPES[output_format], render, sidecar)


def stamp_image(session: Session, settings: Settings, *, image: npt.NDArray[np.uint8] | Image.Image,
                facts: RenderFacts, output_format: ImageFormat = "png",
                provenance: ProvenanceSettings | None = None) -> StampedOutput:
    """Watermark an RGB image (array or PIL image, at least 256×256), encode it and embed a C2PA manifest."""
    provenance = provenance or ProvenanceSettings()
    rgb = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.uint8)
    public_id, watermark_id, issued_at = str(uuid.uuid4()), _new_watermark_id(session), utcnow()
    try:
        marked = image_watermark.embed(rgb, watermark_id)
    except image_watermark.ImageWatermarkError as exc:
        raise BadRequest(str(exc)) from exc
    assertion = _assertion(public_id, watermark_id, RenderKind.image, facts, issued_at)
    data = embed_c2pa(encode_image(marked, output_format), output_format, assertion,
                      signing_credentials(settings, provenance), generated=facts.model_id is not None,
                      timestamp_url=provenance.timestamp_url)
    render = _record(session, public_id=public_id, watermark_id=watermark_id, kind=RenderKind.image, facts=facts,
                     output_format=output_format, data=data, manifest_kind="c2pa", issued_at=issued_at,
                     size=(rgb.shape[1], rgb.shape[0]))
    return StampedOutput(data, IMAGE_MEDIA_TYPES[output_format], render, None)


def facts_of(render: Render) -> RenderFacts:
    return RenderFacts(purpose=render.purpose, user_id=render.user_id, track_id=render.track_id,
                       album_id=render.album_id, spec_hash=render.spec_hash, model_id=render.model_id,
                       training_manifest_hash=render.training_manifest_hash, grant_ids=tuple(render.grant_ids),
                       licence_id=render.licence_id)


def sidecar_for(settings: Settings, render: Render, provenance: ProvenanceSettings | None = None) -> dict[str, Any]:
    """The signed sidecar of a sidecar-kind render, signed afresh from its stored record.

    The record holds everything the original sidecar asserted (same render id, watermark id, issue time and
    output hash), so a fan who lost the sidecar served with an Opus clip can fetch an equivalent one.
    """
    provenance = provenance or ProvenanceSettings()
    assertion = _assertion(render.public_id, render.watermark_id, render.kind, facts_of(render), render.created_at)
    return sign_sidecar(assertion, render.output_sha256, AUDIO_MEDIA_TYPES.get(render.output_format, "audio/ogg"),
                        signing_credentials(settings, provenance))


def fingerprint_catalog(session: Session, settings: Settings, *, track_ids: Sequence[int] | None = None,
                        force: bool = False) -> list[FingerprintResult]:
    """(Re)compute the Chromaprint fingerprint of each track's full mix; unchanged stems are skipped."""
    store = AssetStore(settings.asset_dir)
    results: list[FingerprintResult] = []
    for track, stems in repository.tracks_with_stems(session, track_ids):
        if not stems:
            continue
        digest = hashlib.sha256("".join(sorted(s.sha256 for s in stems)).encode()).hexdigest()
        row = repository.fingerprint_for_track(session, track.id)
        if row is not None and row.stems_digest == digest and not force:
            results.append(FingerprintResult(track_id=track.id, track_title=track.title,
                                             duration_seconds=row.duration_seconds,
                                             items=len(json.loads(row.fingerprint_json)), recomputed=False))
            continue
        with tempfile.TemporaryDirectory(prefix="remix-fp-") as scratch:
            mixed = mix_stems([store.path_for(s.storage_key) for s in stems], Path(scratch) / "mix.wav")
            items = fingerprint_file(mixed)
        duration = max((s.duration_seconds or 0.0) for s in stems)
        if row is None:
            row = CatalogFingerprint(track_id=track.id)
            session.add(row)
        row.stems_digest, row.duration_seconds = digest, duration
        row.fingerprint_json, row.computed_at = json.dumps(items.tolist()), utcnow()
        session.flush()
        results.append(FingerprintResult(track_id=track.id, track_title=track.title, duration_seconds=duration,
                                         items=len(items), recomputed=True))
    return results


def _consent(session: Session, render: Render) -> tuple[ConsentStatus, str]:
    now = utcnow()
    grants = repository.grants(session, render.grant_ids)
    revoked = [g for g in grants if g.revocation is not None and g.revocation.revoked_at <= now]
    if revoked:
        when = min(g.revocation.revoked_at for g in revoked if g.revocation is not None)
        ids = [g.id for g in revoked]
        return (ConsentStatus.revoked_since_render,
                f"licensed at render time; consent since revoked (grant(s) {ids}, from {when.isoformat()})")
    if any(not grant_is_live(g, now) for g in grants):
        return ConsentStatus.expired_since_render, "licensed at render time; the consent grant has since expired"
    return ConsentStatus.current, "licensed at render time; consent still current"


def _render_report(render: Render, file_sha256: str) -> RenderReport:
    return RenderReport(
        render_id=render.public_id, kind=render.kind.value, purpose=render.purpose, issued_at=render.created_at,
        user_id=render.user_id, track_id=render.track_id, album_id=render.album_id, spec_hash=render.spec_hash,
        model_id=render.model_id, training_manifest_hash=render.training_manifest_hash, grant_ids=render.grant_ids,
        licence_id=render.licence_id, output_sha256=render.output_sha256,
        exact_file=render.output_sha256 == file_sha256,
    )


def verify_upload(session: Session, settings: Settings, *, data: bytes, sidecar: dict[str, Any] | None = None,
                  actor_user_id: int | None = None,
                  provenance: ProvenanceSettings | None = None) -> VerificationReport:
    """Everything the service can tell about a file: watermark, manifest, catalog match and consent now.

    Raises :class:`UnsupportedMedia` for non-media and :class:`InvalidMedia` for truncated or corrupt files.
    """
    provenance = provenance or ProvenanceSettings()
    sniffed = sniff(data)
    file_sha256 = hashlib.sha256(data).hexdigest()
    credentials = signing_credentials(settings, provenance)
    matches: list[CatalogMatch] = []
    wm_detail: dict[str, Any] = {}
    if sniffed.kind == "image":
        rgb = decode_image(data, max_pixels=settings.max_image_pixels)
        found = image_watermark.detect(rgb, repository.image_render_sizes(session))
        watermark_id = found.watermark_id
        if found.size_tried:
            wm_detail["decoded_at_size"] = list(found.size_tried)
    else:
        with tempfile.TemporaryDirectory(prefix="remix-verify-") as scratch:
            path = Path(scratch) / f"upload.{sniffed.file_format}"
            path.write_bytes(data)
            samples = decode_audio_file(path, max_seconds=settings.max_audio_seconds)
            result = audio_watermark.detect(samples, ANALYSIS_RATE)
            watermark_id = result.watermark_id
            wm_detail = {"sync_z": round(result.sync_z, 2), "tempo_factor": round(result.tempo_factor, 4),
                         "offset_seconds": round(result.offset_seconds, 3)}
            catalog = repository.catalog_fingerprints(session)
            if catalog:
                try:
                    matches = match_catalog(fingerprint_file(path), catalog,
                                            max_bit_error=provenance.fingerprint_max_bit_error,
                                            min_overlap_seconds=provenance.fingerprint_min_overlap_seconds)
                except FingerprintError:
                    matches = []  # too short or odd to fingerprint: the other checks still stand
    manifest = _manifest_check(data, sniffed.file_format, sniffed.media_type, file_sha256, sidecar, credentials)

    render = repository.render_by_watermark(session, watermark_id) if watermark_id else None
    if render is None and manifest.state == ManifestState.trusted and manifest.assertion:
        render = repository.render_by_public_id(session, str(manifest.assertion.get("render_id")))
    titles = repository.track_titles(session, [m.track_id for m in matches])
    match_reports = [CatalogMatchReport(track_id=m.track_id, track_title=titles.get(m.track_id, ""),
                                        offset_seconds=m.offset_seconds, similarity=m.similarity,
                                        bit_error_rate=m.bit_error_rate, overlap_seconds=m.overlap_seconds)
                     for m in matches]
    consent, consent_detail = _consent(session, render) if render else (None, None)

    if manifest.state == ManifestState.tampered:
        verdict, summary = Verdict.tampered, "a provenance manifest is present but the file or manifest was altered"
    elif render is not None:
        verdict, summary = Verdict.licensed_render, f"issued by this service as render {render.public_id}"
    elif watermark_id is not None:
        verdict, summary = Verdict.forged_watermark, f"watermark id {watermark_id} names no render this service issued"
    elif manifest.state == ManifestState.valid_untrusted and manifest.assertion is not None:
        verdict, summary = Verdict.untrusted_manifest, "a Remix-style manifest signed by a certificate we do not trust"
    elif match_reports:
        top = match_reports[0]
        verdict, summary = (Verdict.suspected_unlicensed_copy,
                            f"matches catalog track {top.track_id} ('{top.track_title}') at offset "
                            f"{top.offset_seconds} s but carries no valid watermark")
    else:
        verdict = Verdict.not_from_this_service
        summary = "not from this service: no watermark, manifest or catalog match"
    if consent_detail and verdict == Verdict.licensed_render:
        summary = f"{summary}; {consent_detail}"

    takedown = verdict in (Verdict.suspected_unlicensed_copy, Verdict.forged_watermark, Verdict.tampered,
                           Verdict.untrusted_manifest) and bool(match_reports or watermark_id or manifest.assertion)
    if render is not None and consent != ConsentStatus.current and render.licence_id is None:
        takedown = True  # a free clip whose consent was withdrawn (see the module docstring)
    checked_at = utcnow()
    report = VerificationReport(
        verdict=verdict, summary=summary, file_sha256=file_sha256, media_kind=sniffed.kind,
        media_format=sniffed.file_format,
        watermark=WatermarkReport(found=watermark_id is not None, watermark_id=watermark_id,
                                  names_a_render=render is not None and render.watermark_id == watermark_id,
                                  detail=wm_detail),
        manifest=ManifestReport(kind=manifest.kind, state=manifest.state.value, problems=manifest.problems),
        render=_render_report(render, file_sha256) if render else None, consent=consent,
        consent_detail=consent_detail, takedown_eligible=takedown, catalog_matches=match_reports,
        checked_at=checked_at, service_version=__version__,
    )
    if verdict in (Verdict.suspected_unlicensed_copy, Verdict.forged_watermark, Verdict.tampered):
        report.evidence = evidence_report(report)
        audit.record(session, "provenance.evidence", "file", file_sha256, actor_user_id=actor_user_id,
                     verdict=verdict.value, evidence=report.evidence)
    return report


def _manifest_check(data: bytes, file_format: str, media_type: str, file_sha256: str,
                    sidecar: dict[str, Any] | None, credentials: Any) -> ManifestCheck:
    if sidecar is not None:
        return verify_sidecar(sidecar, file_sha256, credentials)
    if file_format in C2PA_FORMATS:
        return read_c2pa(data, media_type, credentials)
    return ManifestCheck(ManifestState.absent, None, [], "none")


def evidence_report(report: VerificationReport) -> dict[str, Any]:
    """The facts a takedown notice can cite, as plain JSON."""
    top = report.catalog_matches[0] if report.catalog_matches else None
    return {
        "file_sha256": report.file_sha256,
        "media": f"{report.media_kind}/{report.media_format}",
        "verdict": report.verdict.value,
        "matched_track": {"track_id": top.track_id, "title": top.track_title} if top else None,
        "offset_seconds": top.offset_seconds if top else None,
        "similarity": top.similarity if top else None,
        "bit_error_rate": top.bit_error_rate if top else None,
        "watermark": {"found": report.watermark.found, "watermark_id": report.watermark.watermark_id,
                      "names_a_render": report.watermark.names_a_render},
        "manifest": {"kind": report.manifest.kind, "state": report.manifest.state,
                     "problems": report.manifest.problems},
        "checked_at": report.checked_at.isoformat(),
        "service": "remix",
        "service_version": report.service_version,
        "method": "spread-spectrum audio watermark / DWT-DCT-SVD image watermark; C2PA manifest; "
                  "Chromaprint raw fingerprint sliding bit-error comparison",
    }


def public_report(report: VerificationReport) -> PublicVerificationReport:
    """The less detailed answer for anyone (no user, grant or licence ids, no evidence)."""
    render = report.render
    return PublicVerificationReport(
        verdict=report.verdict, summary=report.summary if report.verdict != Verdict.licensed_render else
        ("issued by this service" + (f"; {report.consent_detail}" if report.consent_detail else "")),
        file_sha256=report.file_sha256, render_id=render.render_id if render else None,
        issued_at=render.issued_at if render else None, licensed=bool(render and render.licence_id),
        consent=report.consent, manifest_state=report.manifest.state,
        matched_track_title=report.catalog_matches[0].track_title if report.catalog_matches else None,
        checked_at=report.checked_at,
    )
