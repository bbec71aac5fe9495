"""Which consent scope a render needs, the length limits of each use, and the entitlement hook.

* ``preview`` — live preview chunks while editing: at most ``PREVIEW_MAX_SECONDS`` of output, scope
  ``remix_preview``.
* ``clip`` — a free download: at most ``FREE_CLIP_MAX_SECONDS`` of *output* (tempo and loops count),
  scope ``download_clip``. Longer is refused with :class:`LicenceRequired` (402) — never silently cut —
  unless the user holds an entitlement (a purchase) for exactly this spec, in which case scope
  ``sell_extended`` is required instead.

Every render also needs the scope's live consent grant on every stem that is audible in it; that check
is :func:`remix.catalog.consent.require_use`, made by the service on each request, so a revocation
stops the very next render.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from remix.audio.errors import LicenceRequired, RemixSpecRejected
from remix.auth.models import User
from remix.catalog.models import Scope

PREVIEW_MAX_SECONDS = 10.0
FREE_CLIP_MAX_SECONDS = 30.0
# Output lengths are computed from floats (length / tempo × loops); a spec meant as exactly 30 s may
# come out a hair over. A millisecond is far below anything audible and far below any abuse.
LENGTH_TOLERANCE_SECONDS = 0.001


class RenderUse(enum.StrEnum):
    preview = "preview"
    clip = "clip"


class EntitlementCheck(Protocol):
    """Does ``user`` hold a purchase covering an extended render of ``spec_hash`` on ``track_id``?"""

    def __call__(self, session: Session, user: User, track_id: int, spec_hash: str) -> bool: ...


def no_entitlements(session: Session, user: User, track_id: int, spec_hash: str) -> bool:
    """The default until commerce exists: nobody has bought anything."""
    return False


_entitlement_check: EntitlementCheck = no_entitlements


def install_entitlement_check(check: EntitlementCheck) -> EntitlementCheck:
    """The hook commerce (issue 6) implements: install its check; returns the previous one (for tests)."""
    global _entitlement_check
    previous, _entitlement_check = _entitlement_check, check
    return previous


def has_entitlement(session: Session, user: User, track_id: int, spec_hash: str) -> bool:
    """True when ``user`` bought an extended (over 30 s) render of this exact spec on this track.

    Always False until commerce installs its check with :func:`install_entitlement_check`.
    """
    return _entitlement_check(session, user, track_id, spec_hash)


@dataclass(frozen=True)
class LicenceDecision:
    scope: Scope
    entitled: bool


def licence_for(session: Session, user: User, track_id: int, spec_hash: str, use: RenderUse,
                output_seconds: float, how: str) -> LicenceDecision:
    """The consent scope this render needs, or a refusal naming the limit. ``how`` explains the length."""
    if use == RenderUse.preview:
        if output_seconds > PREVIEW_MAX_SECONDS + LENGTH_TOLERANCE_SECONDS:
            raise RemixSpecRejected(
                f"window: a preview chunk may be at most {PREVIEW_MAX_SECONDS:g} s of output; this spec renders "
                f"{output_seconds:.2f} s ({how}). Preview a shorter window."
            )
        return LicenceDecision(Scope.remix_preview, entitled=False)
    if output_seconds <= FREE_CLIP_MAX_SECONDS + LENGTH_TOLERANCE_SECONDS:
        return LicenceDecision(Scope.download_clip, entitled=False)
    if has_entitlement(session, user, track_id, spec_hash):
        return LicenceDecision(Scope.sell_extended, entitled=True)
    raise LicenceRequired(
        f"free clips are limited to {FREE_CLIP_MAX_SECONDS:g} s of output; this spec renders "
        f"{output_seconds:.2f} s ({how}). Shorten the window, raise the tempo or use fewer loops, "
        "or buy an extended licence for this remix."
    )
