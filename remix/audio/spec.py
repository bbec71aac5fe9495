"""The edit list a fan builds: one ``RemixSpec`` renders identically as live preview, free clip or paid version.

Times in the excerpt window are positions in the original track (what the fan selects on its waveform);
the rendered output lasts ``window.length_seconds / tempo * loops`` seconds. The canonical JSON form and
its SHA-256 identify a spec in provenance records and download names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from remix.audit.service import canonical_json

# Same rule as stem upload names (remix.catalog.service.STEM_NAME).
StemName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]

MIN_TEMPO, MAX_TEMPO = 0.5, 2.0
MAX_KEY_SHIFT = 12
MIN_CUTOFF_HZ, MAX_CUTOFF_HZ = 20.0, 20_000.0
MAX_WINDOW_SECONDS = 600.0
MAX_LOOPS = 16
# Even a paid extended version is rendered in memory: cap its length (15 minutes, about 320 MB as float32).
MAX_OUTPUT_SECONDS = 900.0


class _Strict(BaseModel):
    # Unknown fields are refused (a typo such as "tempo_ratio" must not be silently ignored), and so are
    # NaN and infinities, which JSON parsers in some clients happily produce.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class StemSettings(_Strict):
    """How one stem sounds in the mix. Stems not named in a spec play at these defaults."""

    gain_db: float = Field(default=0.0, ge=-60.0, le=12.0, description="Level change in dB (−60…+12)")
    mute: bool = Field(default=False, description="Silence this stem")
    solo: bool = Field(default=False, description="If any stem is soloed, only soloed, unmuted stems play")
    pan: float = Field(default=0.0, ge=-1.0, le=1.0, description="−1 hard left, 0 centre, +1 hard right")


class FilterSettings(_Strict):
    """One low- or high-pass filter on the whole mix (4th-order Butterworth, 24 dB/octave)."""

    kind: Literal["none", "lowpass", "highpass"] = "none"
    cutoff_hz: float | None = Field(
        default=None, ge=MIN_CUTOFF_HZ, le=MAX_CUTOFF_HZ, description="Required unless kind is 'none'"
    )

    @model_validator(mode="after")
    def _cutoff_matches_kind(self) -> FilterSettings:
        if self.kind != "none" and self.cutoff_hz is None:
            raise ValueError(f"a {self.kind} filter needs cutoff_hz ({MIN_CUTOFF_HZ:g}–{MAX_CUTOFF_HZ:g} Hz)")
        if self.kind == "none" and self.cutoff_hz is not None:
            raise ValueError("cutoff_hz is given but kind is 'none'; choose 'lowpass' or 'highpass'")
        return self


class ExcerptWindow(_Strict):
    """The part of the original track to use, in track time."""

    start_seconds: float = Field(default=0.0, ge=0.0, description="Where the excerpt starts in the track")
    length_seconds: float = Field(gt=0.0, le=MAX_WINDOW_SECONDS, description="How much of the track to use")
    loops: int = Field(default=1, ge=1, le=MAX_LOOPS, description="Play the processed excerpt this many times")


class RemixSpec(_Strict):
    """A complete, validated remix edit list. Range errors name the field that is out of range."""

    stems: dict[StemName, StemSettings] = Field(
        default_factory=dict, description="Per-stem settings keyed by stem name; unnamed stems use defaults"
    )
    tempo: float = Field(
        default=1.0, ge=MIN_TEMPO, le=MAX_TEMPO, description="Speed ratio; 2.0 plays twice as fast (half as long)"
    )
    key_shift: int = Field(default=0, ge=-MAX_KEY_SHIFT, le=MAX_KEY_SHIFT, description="Transpose by semitones")
    filter: FilterSettings = Field(default_factory=FilterSettings)
    window: ExcerptWindow
    fade_in_seconds: float = Field(default=0.0, ge=0.0, le=60.0)
    fade_out_seconds: float = Field(default=0.0, ge=0.0, le=60.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seeds the dither noise; same seed, same bytes")

    @model_validator(mode="after")
    def _output_fits(self) -> RemixSpec:
        if self.output_seconds > MAX_OUTPUT_SECONDS:
            raise ValueError(
                f"the output would be {self.output_seconds:.1f} s long (window.length_seconds / tempo × "
                f"window.loops); at most {MAX_OUTPUT_SECONDS:g} s can be rendered"
            )
        total = self.fade_in_seconds + self.fade_out_seconds
        if total > self.output_seconds + 1e-9:
            raise ValueError(
                f"fade_in_seconds + fade_out_seconds ({total:g} s) is longer than the output "
                f"({self.output_seconds:.3f} s)"
            )
        return self

    @property
    def output_seconds(self) -> float:
        """How long the rendered audio lasts: tempo and loops both count."""
        return self.window.length_seconds / self.tempo * self.window.loops

    @property
    def source_seconds(self) -> float:
        """How much of the track one pass reads (the window itself)."""
        return self.window.length_seconds

    def settings_for(self, stem_name: str) -> StemSettings:
        return self.stems.get(stem_name, DEFAULT_STEM)

    def audible_stems(self, stem_names: Iterable[str]) -> list[str]:
        """The stems that will be heard, in the given order: unmuted, and soloed if any stem is soloed."""
        names = list(stem_names)
        soloing = any(self.settings_for(n).solo for n in names)
        return [n for n in names if not self.settings_for(n).mute and (self.settings_for(n).solo or not soloing)]

    def canonical(self) -> dict[str, object]:
        """The spec with every default filled in, default stem entries dropped and ``-0.0`` folded to ``0.0``,
        so two specs that render the same audio have the same canonical form."""
        data = self.model_dump(mode="json")
        data["stems"] = {
            name: settings.model_dump(mode="json")
            for name, settings in sorted(self.stems.items())
            if settings != DEFAULT_STEM
        }
        folded: dict[str, object] = _fold_negative_zero(data)  # type: ignore[assignment]
        return folded

    def canonical_json(self) -> str:
        return canonical_json(self.canonical())

    @property
    def spec_hash(self) -> str:
        """SHA-256 of the canonical JSON: the spec's identity in provenance and file names."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


DEFAULT_STEM = StemSettings()


def _fold_negative_zero(value: object) -> object:
    if isinstance(value, float):
        return value + 0.0
    if isinstance(value, dict):
        return {k: _fold_negative_zero(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fold_negative_zero(v) for v in value]
    return value
