"""The demo album's media: real Bach chorales rendered to stems, real public-domain photographs.

One full build is shared by the module (it renders twelve stems with fluidsynth); tests that need to
rebuild use a single-track album in their own directory to stay quick.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from remix.demo.media import (
    MANIFEST_NAME,
    MIN_TRACK_SECONDS,
    STEM_NAMES,
    DemoAlbumMedia,
    build_demo_media,
    load_demo_media,
)

pytestmark = pytest.mark.slow

# A rendered voice sits around 0.05-0.07 RMS (full scale = 1.0); silence or a near-silent render is << 0.01.
AUDIBLE_RMS = 0.01
# Mean absolute difference of third-octave band levels between two stems. The wind quartet measures
# 10-19 dB per pair; rendering all four voices on one instrument (piano) measured 2.6-8 dB, since the
# register alone separates them a little.
DISTINCT_SPECTRUM_DB = 8.5


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _all_files(media: DemoAlbumMedia) -> list[Path]:
    return [s.path for t in media.tracks for s in t.stems] + [a.path for a in media.artwork]


def _band_levels_db(mono: np.ndarray, rate: int) -> np.ndarray:
    """Long-term spectrum in third-octave bands from 50 Hz to ~12.8 kHz, in dB."""
    n = 4096
    frames = mono[: len(mono) // n * n].reshape(-1, n) * np.hanning(n)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    edges = 50.0 * 2 ** (np.arange(25) / 3)
    bands = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in itertools.pairwise(edges)])
    return np.asarray(10 * np.log10(bands + 1e-12))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoAlbumMedia, float]:
    out_dir = tmp_path_factory.mktemp("demo-media")
    started = time.perf_counter()
    media = build_demo_media(out_dir)
    return out_dir, media, time.perf_counter() - started


@pytest.fixture(scope="module")
def media(built: tuple[Path, DemoAlbumMedia, float]) -> DemoAlbumMedia:
    return built[1]


def test_album_credits_and_track_list(media: DemoAlbumMedia) -> None:
    assert media.artist_name == "The Leipzig Consort"
    assert media.album_title == "Chorales in Colour"
    assert media.year == 2026
    assert [t.position for t in media.tracks] == [1, 2, 3]
    assert len({t.title for t in media.tracks}) == 3
    assert len({t.source for t in media.tracks}) == 3
    for track in media.tracks:
        assert track.source.startswith("bach/bwv")
        assert 40 <= track.bpm <= 140
        tonic, mode = track.musical_key.split(" ")
        assert mode in {"major", "minor"}
        assert tonic[0] in "ABCDEFG"


def test_each_track_has_four_aligned_cd_quality_stems(media: DemoAlbumMedia) -> None:
    for track in media.tracks:
        assert [s.name for s in track.stems] == list(STEM_NAMES)
        assert len({s.instrument for s in track.stems}) == 4, "every voice should have its own instrument"
        infos = [sf.info(str(s.path)) for s in track.stems]
        for info in infos:
            assert info.samplerate == 44_100
            assert info.channels == 2
            assert info.subtype == "PCM_16"
            assert info.format == "WAV"
        assert len({info.frames for info in infos}) == 1, f"{track.title}: stems differ in length"
        assert infos[0].frames / 44_100 >= MIN_TRACK_SECONDS


def test_stems_are_audible_throughout_and_sound_different(media: DemoAlbumMedia) -> None:
    for track in media.tracks:
        spectra = {}
        for stem in track.stems:
            audio, rate = sf.read(str(stem.path), dtype="float32", always_2d=True)
            mono = audio.mean(axis=1)
            # Every 15 s window of the first 45 s must carry sound: a 30 s clip is cut from anywhere there.
            for start in range(0, int(MIN_TRACK_SECONDS), 15):
                window = mono[start * rate : (start + 15) * rate]
                rms = float(np.sqrt(np.mean(window**2)))
                assert rms > AUDIBLE_RMS, f"{track.title} {stem.name}: near-silent from {start}s ({rms=})"
            spectra[stem.name] = _band_levels_db(mono, rate)
        for a, b in itertools.combinations(spectra, 2):
            diff_db = float(np.abs(spectra[a] - spectra[b]).mean())
            assert diff_db > DISTINCT_SPECTRUM_DB, f"{track.title}: {a} vs {b} only {diff_db:.1f} dB"


def test_full_mix_of_all_stems_does_not_clip(media: DemoAlbumMedia) -> None:
    for track in media.tracks:
        mix = sum(sf.read(str(s.path), dtype="int16")[0].astype(np.int32) for s in track.stems)
        assert int(np.abs(mix).max()) < 32767, f"{track.title}: summing the stems clips"


def test_artwork_decodes_and_has_captions(media: DemoAlbumMedia) -> None:
    assert 2 <= len(media.artwork) <= 3
    assert len({a.title for a in media.artwork}) == len(media.artwork)
    for art in media.artwork:
        with Image.open(art.path) as image:
            image.load()
            assert image.format in {"PNG", "JPEG"}
            assert image.mode == "RGB"
            assert min(image.size) >= 256
            # A real photograph, not a flat placeholder.
            assert float(np.asarray(image, dtype=np.float32).std()) > 20
        assert len(art.caption.split()) >= 8, "captions condition text-to-image; they need real content"
        assert "public domain" in art.source or "CC0" in art.source


def test_second_call_returns_cached_files_unchanged(built: tuple[Path, DemoAlbumMedia, float]) -> None:
    out_dir, media, build_seconds = built
    assert build_seconds < 120, f"fresh build took {build_seconds:.1f}s"
    before = {p: (_sha256(p), p.stat().st_mtime_ns) for p in _all_files(media)}

    started = time.perf_counter()
    again = build_demo_media(out_dir)
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0, f"cached call took {elapsed:.2f}s"
    assert again == media
    assert load_demo_media(out_dir) == media
    assert {p: (_sha256(p), p.stat().st_mtime_ns) for p in _all_files(again)} == before
    assert not list(out_dir.glob("**/*.tmp")), "no temporary files may be left behind"


def test_damaged_build_is_detected_and_rebuilt(tmp_path: Path) -> None:
    first = build_demo_media(tmp_path, track_count=1)
    stem = first.tracks[0].stems[0].path
    good = _sha256(stem)
    # Simulate a file cut short (e.g. a crash while copying the directory).
    stem.write_bytes(stem.read_bytes()[: stem.stat().st_size // 2])
    assert load_demo_media(tmp_path) is None

    rebuilt = build_demo_media(tmp_path, track_count=1)
    assert rebuilt == first
    assert _sha256(stem) == good, "fluidsynth rendering should be reproducible"


def test_build_without_manifest_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "tracks").mkdir()
    assert load_demo_media(tmp_path) is None
    (tmp_path / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    assert load_demo_media(tmp_path) is None


def test_missing_fluidsynth_names_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(RuntimeError, match=r"Debian package 'fluidsynth'"):
        build_demo_media(tmp_path / "out")


def test_missing_soundfont_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"Debian package 'fluid-soundfont-gm'"):
        build_demo_media(tmp_path / "out", tmp_path / "missing.sf2")


def test_track_count_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="track_count"):
        build_demo_media(tmp_path, track_count=0)
