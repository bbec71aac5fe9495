"""Tempo, key and filter, measured the way a listener would hear them: length and dominant pitch."""

from __future__ import annotations

import numpy as np
import pytest

from remix.audio.engine import render
from remix.audio.filters import apply_filter
from remix.audio.spec import RemixSpec
from remix.audio.stretch import change_tempo_and_key

RATE = 22_050


def tone(frequency: float, seconds: float = 2.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    mono = amplitude * (np.sin(2 * np.pi * frequency * t) + 0.3 * np.sin(2 * np.pi * 2 * frequency * t))
    return np.ascontiguousarray(np.stack([mono, 0.5 * mono], axis=1), dtype=np.float32)


def dominant_hz(audio: np.ndarray) -> float:
    mono = audio[:, 0].astype(np.float64) * np.hanning(audio.shape[0])
    spectrum = np.abs(np.fft.rfft(mono))
    return float(np.fft.rfftfreq(audio.shape[0], 1 / RATE)[np.argmax(spectrum)])


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


def test_tempo_two_halves_the_duration_and_keeps_the_pitch() -> None:
    source = tone(330)
    out = change_tempo_and_key(source, RATE, 2.0, 0)
    assert out.shape == (source.shape[0] // 2, 2)
    assert dominant_hz(out) == pytest.approx(330, abs=3)
    assert rms(out[2000:-2000]) == pytest.approx(rms(source), rel=0.05)  # same loudness


def test_tempo_half_doubles_the_duration() -> None:
    source = tone(330, seconds=1.0)
    out = change_tempo_and_key(source, RATE, 0.5, 0)
    assert out.shape[0] == 2 * source.shape[0]
    assert dominant_hz(out) == pytest.approx(330, abs=3)


@pytest.mark.parametrize(("semitones", "factor"), [(12, 2.0), (-12, 0.5), (7, 2 ** (7 / 12))])
def test_key_shift_scales_the_dominant_frequency(semitones: int, factor: float) -> None:
    source = tone(300)
    out = change_tempo_and_key(source, RATE, 1.0, semitones)
    assert out.shape == source.shape  # key alone never changes the length
    assert dominant_hz(out) == pytest.approx(300 * factor, rel=0.01)


def test_tempo_and_key_together() -> None:
    source = tone(300)
    out = change_tempo_and_key(source, RATE, 1.25, 12)
    assert out.shape[0] == round(source.shape[0] / 1.25)
    assert dominant_hz(out) == pytest.approx(600, rel=0.01)


def test_stereo_balance_survives_the_stretch() -> None:
    out = change_tempo_and_key(tone(300), RATE, 1.5, 3)
    assert rms(out[:, 1]) / rms(out[:, 0]) == pytest.approx(0.5, rel=0.02)


def test_stretch_is_deterministic() -> None:
    rng = np.random.default_rng(7)
    noise = rng.standard_normal((RATE, 2)).astype(np.float32) * 0.1
    first = change_tempo_and_key(noise + tone(440, 1.0), RATE, 0.8, -5)
    second = change_tempo_and_key(noise + tone(440, 1.0), RATE, 0.8, -5)
    assert first.tobytes() == second.tobytes()


def test_silence_stays_silent() -> None:
    out = change_tempo_and_key(np.zeros((RATE, 2), dtype=np.float32), RATE, 1.3, 2)
    assert not np.any(np.abs(out) > 1e-6)


@pytest.mark.parametrize(("kind", "kept", "cut"), [("lowpass", 200, 4000), ("highpass", 4000, 200)])
def test_filters_cut_the_other_side_of_the_cutoff(kind: str, kept: float, cut: float) -> None:
    kept_only = apply_filter(tone(kept, amplitude=0.2), RATE, kind, 1000.0)  # type: ignore[arg-type]
    cut_only = apply_filter(tone(cut, amplitude=0.2), RATE, kind, 1000.0)  # type: ignore[arg-type]
    assert rms(kept_only[2000:]) > 0.9 * rms(tone(kept, amplitude=0.2))
    assert rms(cut_only[2000:]) < 0.01 * rms(tone(cut, amplitude=0.2))  # more than 40 dB down


def test_render_reads_only_the_window_and_counts_tempo() -> None:
    t = np.arange(4 * RATE) / RATE
    # 1 s of 200 Hz, then 2 s of 500 Hz, then 1 s of 200 Hz: the window [1 s, 3 s) is all 500 Hz.
    frequency = np.where((t >= 1) & (t < 3), 500.0, 200.0)
    mono = 0.3 * np.sin(2 * np.pi * np.cumsum(frequency) / RATE)
    stems = {"only": np.ascontiguousarray(np.stack([mono, mono], 1), dtype=np.float32)}
    spec = RemixSpec.model_validate({"window": {"start_seconds": 1.0, "length_seconds": 2.0}, "tempo": 2.0})
    out = render(stems, spec, RATE)
    assert out.shape[0] == RATE  # 2 s of track at double speed
    assert dominant_hz(out) == pytest.approx(500, abs=5)
    assert spec.output_seconds == pytest.approx(1.0)
