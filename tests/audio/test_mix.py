"""Mix math on tiny real-ish signals: what a listener would notice about gain, mute, solo, pan and level."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from remix.audio.engine import render
from remix.audio.mix import (
    PEAK_CEILING,
    MixInput,
    fade,
    fade_blocks,
    limit,
    limit_blocks,
    limiter_reach,
    loop,
    loop_blocks,
    mix,
    pan_gains,
)
from remix.audio.spec import RemixSpec

RATE = 8_000


def tone(frequency: float, seconds: float = 1.0, amplitude: float = 0.1) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    mono = amplitude * np.sin(2 * np.pi * frequency * t)
    return np.ascontiguousarray(np.stack([mono, mono], axis=1), dtype=np.float32)


def energy(audio: np.ndarray) -> float:
    return float(np.sum(audio.astype(np.float64) ** 2))


def band_energy(audio: np.ndarray, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio[:, 0].astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(audio.shape[0], 1 / RATE)
    return float(spectrum[np.abs(freqs - frequency) < 5].sum())


STEMS = {"low": tone(220), "mid": tone(440), "high": tone(880)}


def spec(**fields: object) -> RemixSpec:
    return RemixSpec.model_validate({"window": {"start_seconds": 0, "length_seconds": 1.0}, **fields})


def test_default_spec_reproduces_the_plain_sum() -> None:
    out = render(STEMS, spec(), RATE)
    np.testing.assert_allclose(out, STEMS["low"] + STEMS["mid"] + STEMS["high"], atol=1e-6)


def test_muting_a_stem_removes_its_energy() -> None:
    out = render(STEMS, spec(stems={"mid": {"mute": True}}), RATE)
    assert band_energy(out, 440) < 1e-9 * band_energy(STEMS["mid"], 440)
    assert band_energy(out, 220) == pytest.approx(band_energy(STEMS["low"], 220), rel=1e-4)


def test_solo_isolates_the_soloed_stem() -> None:
    out = render(STEMS, spec(stems={"high": {"solo": True}}), RATE)
    np.testing.assert_allclose(out, STEMS["high"], atol=1e-7)


def test_plus_six_db_doubles_the_amplitude() -> None:
    out = render(STEMS, spec(stems={"mid": {"gain_db": 6.0206}, "low": {"mute": True}, "high": {"mute": True}}), RATE)
    assert np.max(np.abs(out)) == pytest.approx(2 * np.max(np.abs(STEMS["mid"])), rel=1e-4)


def test_minus_sixty_db_is_almost_silent() -> None:
    out = render(STEMS, spec(stems={"mid": {"gain_db": -60, "solo": True}}), RATE)
    assert np.max(np.abs(out)) == pytest.approx(0.001 * np.max(np.abs(STEMS["mid"])), rel=1e-3)


def test_hard_pan_moves_the_stem_to_one_side_at_constant_power() -> None:
    out = render(STEMS, spec(stems={"mid": {"pan": -1.0, "solo": True}}), RATE)
    assert energy(out[:, 1]) < 1e-9
    assert energy(out) == pytest.approx(energy(STEMS["mid"]), rel=1e-4)  # same loudness as centred
    for position in (-1.0, -0.5, 0.0, 0.3, 1.0):
        left, right = pan_gains(position)
        assert left**2 + right**2 == pytest.approx(2.0)
    assert pan_gains(0.0) == pytest.approx((1.0, 1.0))


def test_sum_past_full_scale_is_not_clipped_mid_mix() -> None:
    loud = np.full((100, 2), 0.8, dtype=np.float32)
    summed = mix([MixInput(loud, 1.0, 1.0), MixInput(loud, 1.0, 1.0), MixInput(-loud, 1.0, 1.0)], 100)
    np.testing.assert_allclose(summed, loud)  # 0.8 + 0.8 − 0.8: nothing was lost at 1.6


def test_mix_pads_short_stems_with_silence() -> None:
    short = np.ones((10, 2), dtype=np.float32)
    out = mix([MixInput(short, 0.5, 0.25)], 20)
    assert out.shape == (20, 2)
    np.testing.assert_array_equal(out[:10], np.tile([0.5, 0.25], (10, 1)))
    assert not out[10:].any()


def test_limiter_keeps_peaks_under_minus_one_dbfs() -> None:
    stems = {f"s{i}": tone(110 * (i + 1), amplitude=0.5) for i in range(4)}
    out = render(stems, spec(stems={"s0": {"gain_db": 12}}), RATE)
    assert np.max(np.abs(out)) <= PEAK_CEILING
    assert 20 * np.log10(np.max(np.abs(out))) == pytest.approx(-1.0, abs=0.05)  # limited, not crushed


def test_limiter_leaves_quiet_audio_untouched() -> None:
    quiet = tone(440, amplitude=0.5)
    assert limit(quiet, RATE) is quiet


def test_limiter_holds_the_ceiling_on_a_single_spike() -> None:
    audio = tone(440, amplitude=0.2)
    audio[4000] = 3.0
    out = limit(audio, RATE)
    assert np.max(np.abs(out)) <= PEAK_CEILING
    assert np.max(np.abs(out[:3000])) == pytest.approx(0.2, rel=1e-3)  # far from the spike, no pumping


def test_fades_start_and_end_in_silence() -> None:
    out = fade(tone(440, amplitude=0.5) + 0.25, RATE, 0.1, 0.2)
    assert abs(out[0, 0]) < 1e-6 and abs(out[-1, 0]) < 1e-6
    assert np.max(np.abs(out[:400])) < np.max(np.abs(out[800:1600]))


def test_loop_repeats_the_excerpt() -> None:
    unit = tone(440)
    out = loop(unit, RATE, 3)
    assert out.shape[0] == 3 * unit.shape[0]
    np.testing.assert_allclose(out[RATE // 2], unit[RATE // 2])
    np.testing.assert_allclose(out[RATE + RATE // 2], unit[RATE // 2])


def blocks_of(audio: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    edges = np.cumsum([0, *sizes])
    assert edges[-1] == audio.shape[0]
    return [audio[a:b] for a, b in itertools.pairwise(edges)]


def test_streamed_limiter_sounds_like_the_whole_signal_limited() -> None:
    # Spikes right at, just before and just after block joins: the look-ahead must see them coming.
    audio = tone(440, amplitude=0.2)
    reach = limiter_reach(RATE)
    for at in (1999, 2000, 2000 + reach, 5000 - reach // 2, 7999):
        audio[at] = 3.0
    streamed = np.concatenate(list(limit_blocks(blocks_of(audio, [2000, 37, 2963, 3000]), RATE)))
    whole = limit(audio, RATE)
    assert streamed.shape == audio.shape
    assert np.max(np.abs(streamed)) <= PEAK_CEILING
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_streamed_limiter_keeps_quiet_blocks_bit_for_bit() -> None:
    audio = tone(440, amplitude=0.2)
    audio[7000] = 3.0  # only the end needs limiting
    streamed = np.concatenate(list(limit_blocks(blocks_of(audio, [3000, 3000, 2000]), RATE)))
    assert streamed[:6000].tobytes() == audio[:6000].tobytes()
    assert np.max(np.abs(streamed)) <= PEAK_CEILING


def test_streamed_fades_and_loops_match_the_whole_signal() -> None:
    unit = tone(440, amplitude=0.5) + 0.25
    whole = fade(loop(unit, RATE, 3), RATE, 1.5, 0.7)
    blocks = loop_blocks(blocks_of(unit, [100, 4000, 3900]), RATE, 3, unit.shape[0])
    streamed = np.concatenate(list(fade_blocks(blocks, RATE, 1.5, 0.7, 3 * unit.shape[0])))
    assert streamed.tobytes() == whole.tobytes()
