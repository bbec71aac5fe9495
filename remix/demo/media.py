"""Media for the demo album, built from public-domain material nobody on this project wrote.

The demo catalogue needs real multitrack audio and real photographs so that every feature (stem mixing,
clip cutting, live visuals, artwork conditioning) is exercised on material with genuine musical and
visual structure, while staying clear of anyone's copyright:

* Music: four-voice chorales by J. S. Bach from music21's bundled corpus. Each voice is written to its own
  MIDI file with music21 and rendered with the ``fluidsynth`` program and the FluidR3 General MIDI
  SoundFont, giving one stereo 44.1 kHz 16-bit WAV stem per voice.
* Artwork: photographs bundled with scikit-image whose licences are public domain or CC0.

Nothing here touches the network. The build is cached: a manifest (``demo-media.json``) is written last,
after every file it lists is in place, so an interrupted build is simply redone on the next call.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import math
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from music21 import stream

__all__ = [
    "ALBUM_TITLE",
    "ALBUM_YEAR",
    "ARTIST_NAME",
    "DEFAULT_SOUNDFONT",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "MIN_TRACK_SECONDS",
    "SAMPLE_RATE",
    "STEM_NAMES",
    "DemoAlbumMedia",
    "DemoArtwork",
    "DemoStem",
    "DemoTrack",
    "build_demo_media",
    "load_demo_media",
]

ARTIST_NAME = "The Leipzig Consort"
ALBUM_TITLE = "Chorales in Colour"
ALBUM_YEAR = 2026

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 44_100
# Clips of 30 s are cut from each track later; 45 s leaves room to choose where the clip starts.
MIN_TRACK_SECONDS = 45.0
MANIFEST_NAME = "demo-media.json"
# Bump whenever the output would differ for the same parameters, so stale caches are rebuilt.
MANIFEST_VERSION = 1
STEM_NAMES = ("soprano", "alto", "tenor", "bass")

_LOCK_NAME = ".demo-media.lock"
_SCRATCH_PREFIX = ".build-"
_FLUIDSYNTH_GAIN = "0.8"


@dataclass(frozen=True)
class DemoStem:
    """One rendered voice of a track."""

    name: str
    path: Path
    instrument: str


@dataclass(frozen=True)
class DemoTrack:
    """A chorale rendered as four aligned stems of identical length."""

    title: str
    position: int
    bpm: float
    musical_key: str
    stems: list[DemoStem]
    source: str


@dataclass(frozen=True)
class DemoArtwork:
    """A public-domain photograph with a human caption (later used to condition text-to-image)."""

    path: Path
    title: str
    caption: str
    source: str


@dataclass(frozen=True)
class DemoAlbumMedia:
    """Everything the demo album needs: its credits, its tracks and its artwork."""

    artist_name: str
    album_title: str
    year: int
    tracks: list[DemoTrack]
    artwork: list[DemoArtwork]


@dataclass(frozen=True)
class _ChoraleSpec:
    source: str
    title: str
    # Used when the score carries no printed tempo (true of every chorale in the corpus): a steady
    # hymn pace that keeps the chorale singable and each track comfortably past MIN_TRACK_SECONDS.
    bpm: float


@dataclass(frozen=True)
class _VoiceSpec:
    name: str
    part_name: str
    gm_program: int  # General MIDI program number, 0-based as written in the MIDI file
    instrument: str


@dataclass(frozen=True)
class _ArtworkSpec:
    loader: str  # function name in skimage.data; only images shipped inside the wheel are listed
    filename: str
    title: str
    caption: str
    source: str


# Every entry has exactly Soprano/Alto/Tenor/Bass parts. Order matters: the first ``track_count`` are used.
_CHORALES: tuple[_ChoraleSpec, ...] = (
    # 36 quarters long, so it is played twice (two verses), as a strophic hymn would be sung.
    _ChoraleSpec("bach/bwv66.6", "Chorale, BWV 66.6", 72.0),
    # Its first section carries a repeat sign; expanding it gives 84 quarters in 3/4.
    _ChoraleSpec("bach/bwv269", "Chorale, BWV 269", 84.0),
    _ChoraleSpec("bach/bwv248.42-s", "Chorale, BWV 248.42", 84.0),
    _ChoraleSpec("bach/bwv227.1", "Chorale, BWV 227.1", 76.0),
    _ChoraleSpec("bach/bwv40.8", "Chorale, BWV 40.8", 80.0),
)

# A wind quartet: four timbres with clearly different spectra (flute nearly pure, clarinet odd harmonics,
# horn warm and round, bassoon reedy) so each stem is audibly and measurably distinct in a remix.
_VOICES: tuple[_VoiceSpec, ...] = (
    _VoiceSpec("soprano", "Soprano", 73, "flute"),
    _VoiceSpec("alto", "Alto", 71, "clarinet"),
    _VoiceSpec("tenor", "Tenor", 60, "french horn"),
    _VoiceSpec("bass", "Bass", 70, "bassoon"),
)

_ARTWORK: tuple[_ArtworkSpec, ...] = (
    _ArtworkSpec(
        "astronaut",
        "01-astronaut.png",
        "Portrait in Orange",
        "smiling astronaut with short brown hair in an orange pressure suit, holding a black helmet, "
        "american flag and a space shuttle model behind her, official studio portrait",
        "scikit-image sample data 'astronaut': NASA portrait of Eileen Collins, public domain",
    ),
    _ArtworkSpec(
        "coffee",
        "02-coffee.png",
        "Espresso",
        "espresso in a red-brown porcelain cup on a matching saucer with a silver spoon, "
        "on a worn wooden table, warm close-up photograph",
        "scikit-image sample data 'coffee': photograph by Rachel Michetti, CC0",
    ),
    _ArtworkSpec(
        "rocket",
        "03-rocket.jpg",
        "Launch Pad at Dusk",
        "white rocket standing on a launch pad at dusk between steel lightning towers, "
        "deep blue sky, floodlights glowing on the horizon",
        "scikit-image sample data 'rocket': SpaceX photograph of Falcon 9 with DSCOVR, public domain",
    ),
)


def build_demo_media(
    out_dir: Path,
    soundfont: Path = DEFAULT_SOUNDFONT,
    *,
    track_count: int = 3,
) -> DemoAlbumMedia:
    """Build (or return the cached) demo album media in ``out_dir``.

    Renders ``track_count`` Bach chorales to four WAV stems each (soprano, alto, tenor, bass; stereo,
    44.1 kHz, 16-bit, all stems of a track the same length, every track at least ``MIN_TRACK_SECONDS``)
    and saves three public-domain photographs with captions. If ``out_dir`` already holds a complete
    build for the same parameters it is returned without re-rendering.

    Raises ``ValueError`` for an unsupported ``track_count`` and ``RuntimeError`` if the ``fluidsynth``
    program or the SoundFont is missing or rendering fails.
    """
    if not 1 <= track_count <= len(_CHORALES):
        raise ValueError(f"track_count must be between 1 and {len(_CHORALES)}, got {track_count}")
    out_dir = Path(out_dir)
    params = _build_params(soundfont, track_count)

    cached = _load_cached(out_dir, params)
    if cached is not None:
        return cached

    out_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(out_dir / _LOCK_NAME):
        # Another process may have finished the same build while we waited for the lock.
        cached = _load_cached(out_dir, params)
        if cached is not None:
            return cached
        fluidsynth = _require_tools(soundfont)
        # Drop any stale manifest first: files are about to be replaced one by one, and an old manifest
        # left next to a half-rebuilt directory would make it look complete.
        (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
        # Scratch directories of a build that was killed outright (no cleanup ran); we hold the lock,
        # so none of them belongs to a live build.
        for stale in out_dir.glob(f"{_SCRATCH_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        media = _build(out_dir, soundfont, fluidsynth, _CHORALES[:track_count])
        _write_manifest(out_dir, media, params)
    return media


def load_demo_media(out_dir: Path) -> DemoAlbumMedia | None:
    """Return the media recorded in ``out_dir``'s manifest, or ``None`` if there is no complete build.

    A build counts as complete only if the manifest has the current version and every file it lists
    exists with the recorded size. Nothing is rendered, so this works without fluidsynth installed.
    """
    return _load_cached(Path(out_dir), params=None)


def _load_cached(out_dir: Path, params: dict[str, Any] | None) -> DemoAlbumMedia | None:
    try:
        manifest = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        return None
    if params is not None and manifest.get("params") != params:
        return None
    try:
        for rel, size in manifest["files"].items():
            if (out_dir / rel).stat().st_size != size:
                return None
        return _media_from_manifest(out_dir, manifest)
    except (OSError, KeyError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------- building


def _build_params(soundfont: Path, track_count: int) -> dict[str, Any]:
    return {"soundfont": str(soundfont), "track_count": track_count}


def _require_tools(soundfont: Path) -> str:
    fluidsynth = shutil.which("fluidsynth")
    if fluidsynth is None:
        raise RuntimeError(
            "The 'fluidsynth' program is needed to render the demo stems but is not on PATH; "
            "install the Debian package 'fluidsynth' (apt-get install fluidsynth)."
        )
    if not Path(soundfont).is_file():
        raise RuntimeError(
            f"SoundFont {soundfont} not found; install the Debian package 'fluid-soundfont-gm' "
            "(apt-get install fluid-soundfont-gm) or pass the path of another General MIDI .sf2 file."
        )
    return fluidsynth


def _build(
    out_dir: Path, soundfont: Path, fluidsynth: str, chorales: tuple[_ChoraleSpec, ...]
) -> DemoAlbumMedia:
    # Scratch space sits beside the outputs rather than in /tmp (often a small tmpfs): the raw renders
    # alone are ~40 MB per track.
    with (
        tempfile.TemporaryDirectory(prefix=_SCRATCH_PREFIX, dir=out_dir) as scratch_name,
        ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool,
    ):
        scratch = Path(scratch_name)
        pending: list[tuple[_ChoraleSpec, int, float, str, list[Future[Path]]]] = []
        # Score work is pure Python and runs here while fluidsynth processes render in the pool.
        for position, spec in enumerate(chorales, start=1):
            bpm, key, midis = _write_voice_midis(spec, scratch / f"{position:02d}")
            renders = [pool.submit(_render, fluidsynth, soundfont, midi) for midi in midis]
            pending.append((spec, position, bpm, key, renders))

        artwork = [_save_artwork(spec, out_dir / "artwork") for spec in _ARTWORK]

        tracks = []
        for spec, position, bpm, key, renders in pending:
            rendered = [future.result() for future in renders]
            track_dir = out_dir / "tracks" / _track_slug(position, spec.source)
            stems = _write_aligned_stems(rendered, track_dir)
            tracks.append(
                DemoTrack(
                    title=spec.title,
                    position=position,
                    bpm=bpm,
                    musical_key=key,
                    stems=stems,
                    source=spec.source,
                )
            )
    return DemoAlbumMedia(
        artist_name=ARTIST_NAME, album_title=ALBUM_TITLE, year=ALBUM_YEAR, tracks=tracks, artwork=artwork
    )


def _track_slug(position: int, source: str) -> str:
    return f"{position:02d}-{source.rsplit('/', 1)[-1].replace('.', '-')}"


@contextlib.contextmanager
def _music21_quiet() -> Iterator[None]:
    # music21 may warn about harmless details of the corpus encodings, and the test suite turns warnings
    # into errors. Ignore only warnings raised from music21's own modules (plus its deprecation category),
    # and only around music21 calls. catch_warnings is process-wide, so keep this block short.
    from music21 import exceptions21

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=exceptions21.Music21DeprecationWarning)
        warnings.filterwarnings("ignore", module=r"music21(\.|$)")
        yield


def _write_voice_midis(spec: _ChoraleSpec, midi_dir: Path) -> tuple[float, str, list[Path]]:
    """Write one single-voice MIDI file per stem; return (bpm, key, midi paths in _VOICES order)."""
    from music21 import bar, corpus, tempo

    midi_dir.mkdir(parents=True)
    with _music21_quiet():
        score = corpus.parse(spec.source)
        if score.recurse().getElementsByClass(bar.Repeat).first() is not None:
            score = score.expandRepeats()
        parts = {part.partName: part for part in score.parts}
        wanted = [voice.part_name for voice in _VOICES]
        if sorted(parts) != sorted(wanted):
            raise ValueError(f"{spec.source} must have exactly the parts {wanted}, found {sorted(parts)}")

        # The corpus files carry only a "playback only" quarter=96 that the encoder wrote, not a printed
        # tempo, so only a mark with a printed number overrides the chosen hymn pace.
        printed = [
            mark.number
            for mark in score.recurse().getElementsByClass(tempo.MetronomeMark)
            if mark.number is not None and mark.referent.quarterLength == 1.0
        ]
        bpm = float(printed[0]) if printed else spec.bpm
        key = _key_name(score.analyze("key"))

        length_ql = float(score.highestTime)
        verses = max(1, math.ceil(MIN_TRACK_SECONDS / (length_ql * 60.0 / bpm)))

        midis = []
        for voice in _VOICES:
            part = _single_voice_part(parts[voice.part_name], voice, bpm, verses, length_ql)
            midi_path = midi_dir / f"{voice.name}.mid"
            part.write("midi", fp=midi_path)
            midis.append(midi_path)
    return bpm, key, midis


def _single_voice_part(
    source: stream.Part, voice: _VoiceSpec, bpm: float, verses: int, length_ql: float
) -> stream.Part:
    from music21 import instrument, tempo
    from music21.stream import Part

    # A fresh, flat part avoids the source's own Instrument and "playback only" tempo objects competing
    # with ours, and makes repeating the chorale for a second verse a plain offset shift.
    flat = source.stripTies().flatten()
    out = Part()
    out.partName = source.partName
    gm_instrument = instrument.instrumentFromMidiProgram(voice.gm_program)
    gm_instrument.midiProgram = voice.gm_program  # written as the MIDI program change
    out.insert(0.0, gm_instrument)
    out.insert(0.0, tempo.MetronomeMark(number=bpm))
    for verse in range(verses):
        for note in flat.notes:
            out.insert(verse * length_ql + float(flat.elementOffset(note)), copy.deepcopy(note))
    return out


def _key_name(key: Any) -> str:
    # music21 spells flats with '-' and writes minor tonics in lower case; store "F# minor" / "Bb major".
    tonic = str(key.tonic.name).replace("-", "b")
    return f"{tonic} {key.mode}"


def _render(fluidsynth: str, soundfont: Path, midi: Path) -> Path:
    """Render one MIDI file to a stereo 16-bit WAV next to it with the fluidsynth program."""
    wav = midi.with_suffix(".wav")
    command = [
        fluidsynth,
        "-ni",  # no MIDI input driver, no interactive shell
        "-q",
        "-g",
        _FLUIDSYNTH_GAIN,  # the default 0.2 is far too quiet for a single solo voice
        "-F",
        str(wav),
        "-T",
        "wav",
        "-O",
        "s16",
        "-r",
        str(SAMPLE_RATE),
        str(soundfont),
        str(midi),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0 or not wav.is_file() or wav.stat().st_size <= 44:
        raise RuntimeError(
            f"fluidsynth failed to render {midi.name} (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )
    return wav


def _write_aligned_stems(rendered: list[Path], track_dir: Path) -> list[DemoStem]:
    import soundfile as sf

    # Read as int16 so padding is lossless: the stems are written back bit-for-bit plus trailing zeros.
    audio = []
    for wav in rendered:
        data, rate = sf.read(wav, dtype="int16", always_2d=True)
        if rate != SAMPLE_RATE or data.shape[1] != 2:
            raise RuntimeError(f"fluidsynth produced {rate} Hz / {data.shape[1]} channels for {wav.name}")
        if not np.any(data):
            raise RuntimeError(f"fluidsynth rendered silence for {wav.name}; is the SoundFont valid?")
        audio.append(data)

    # Release tails differ per instrument, so stems end at different frames; pad to the longest so the
    # stems stay sample-aligned when mixed or cut.
    frames = max(len(data) for data in audio)
    track_dir.mkdir(parents=True, exist_ok=True)
    stems = []
    for voice, data in zip(_VOICES, audio, strict=True):
        padded = np.zeros((frames, 2), dtype=np.int16)
        padded[: len(data)] = data
        path = track_dir / f"{voice.name}.wav"
        with _atomic_target(path) as tmp:
            sf.write(tmp, padded, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        stems.append(DemoStem(name=voice.name, path=path, instrument=voice.instrument))
    return stems


def _save_artwork(spec: _ArtworkSpec, artwork_dir: Path) -> DemoArtwork:
    from PIL import Image
    from skimage import data as skdata

    loader: Callable[[], np.ndarray] = getattr(skdata, spec.loader)
    image = Image.fromarray(np.ascontiguousarray(loader())).convert("RGB")
    artwork_dir.mkdir(parents=True, exist_ok=True)
    path = artwork_dir / spec.filename
    with _atomic_target(path) as tmp:
        if path.suffix == ".jpg":
            image.save(tmp, format="JPEG", quality=92)
        else:
            image.save(tmp, format="PNG")
    return DemoArtwork(path=path, title=spec.title, caption=spec.caption, source=spec.source)


# ------------------------------------------------------------------------------------ files and manifest


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    # Serialises concurrent builders (e.g. a test run and a dev server) of the same directory.
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_manifest(out_dir: Path, media: DemoAlbumMedia, params: dict[str, Any]) -> None:
    def rel(path: Path) -> str:
        return path.relative_to(out_dir).as_posix()

    paths = [stem.path for track in media.tracks for stem in track.stems] + [a.path for a in media.artwork]
    manifest = {
        "version": MANIFEST_VERSION,
        "params": params,
        "artist_name": media.artist_name,
        "album_title": media.album_title,
        "year": media.year,
        "tracks": [
            {
                "title": track.title,
                "position": track.position,
                "bpm": track.bpm,
                "musical_key": track.musical_key,
                "source": track.source,
                "stems": [
                    {"name": stem.name, "path": rel(stem.path), "instrument": stem.instrument}
                    for stem in track.stems
                ],
            }
            for track in media.tracks
        ],
        "artwork": [
            {"path": rel(art.path), "title": art.title, "caption": art.caption, "source": art.source}
            for art in media.artwork
        ],
        # Sizes let a later call detect a file that was truncated or replaced after the build.
        "files": {rel(path): path.stat().st_size for path in paths},
    }
    manifest_path = out_dir / MANIFEST_NAME
    with _atomic_target(manifest_path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _media_from_manifest(out_dir: Path, manifest: dict[str, Any]) -> DemoAlbumMedia:
    tracks = [
        DemoTrack(
            title=str(track["title"]),
            position=int(track["position"]),
            bpm=float(track["bpm"]),
            musical_key=str(track["musical_key"]),
            stems=[
                DemoStem(
                    name=str(stem["name"]), path=out_dir / stem["path"], instrument=str(stem["instrument"])
                )
                for stem in track["stems"]
            ],
            source=str(track["source"]),
        )
        for track in manifest["tracks"]
    ]
    artwork = [
        DemoArtwork(
            path=out_dir / art["path"],
            title=str(art["title"]),
            caption=str(art["caption"]),
            source=str(art["source"]),
        )
        for art in manifest["artwork"]
    ]
    return DemoAlbumMedia(
        artist_name=str(manifest["artist_name"]),
        album_title=str(manifest["album_title"]),
        year=int(manifest["year"]),
        tracks=tracks,
        artwork=artwork,
    )
