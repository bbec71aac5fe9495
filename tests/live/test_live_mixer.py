"""The live mixer: chunks rendered in the mixer processes are the bytes the audio engine would give; fans
on the same mix and spot share one render; chunks that cannot play in time are shed and counted, never lost
without a word."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import numpy as np
import soundfile

from remix.audio import engine
from remix.audio.decode import decode_stem
from remix.audio.encode import encode_wav
from remix.errors import RemixError
from remix.live.audio import AudioChunk, encode_chunk_wav, render_chunk, spec_for_window
from remix.live.mixer import AudioRenderer, ChunkJob, StemFile
from tests.audio.conftest import STEM_NAMES

RATE = 44_100


def test_the_fast_chunk_encoder_writes_the_same_wav_as_the_audio_engine(short_stems: dict[str, Path]) -> None:
    stems = {name: decode_stem(path, RATE) for name, path in short_stems.items()}
    for seed, start in ((0, 0.0), (7, 1.3), (7, 2.0)):
        spec = spec_for_window({"seed": seed, "stems": {"bass": {"gain_db": -4.0}}}, start, 0.15)
        audio = render_chunk(stems, spec, RATE)
        expected = encode_wav(engine.render(stems, spec, RATE), RATE, seed=seed)
        assert audio.wav == expected
        decoded, rate = soundfile.read(io.BytesIO(audio.wav), dtype="float32", always_2d=True)
        assert rate == RATE and decoded.shape == (round(0.15 * RATE), 2)
    silent = np.zeros((100, 2), dtype=np.float32)
    assert encode_chunk_wav(silent, RATE, seed=3) == encode_wav(silent, RATE, seed=3)


class Fan:
    """A session as the dispatcher sees it: one chunk due at a given moment."""

    def __init__(self, job: ChunkJob, deadline: float) -> None:
        self.job, self.deadline = job, deadline
        self.wake_at = 0.0
        self.asked = False
        self.ready: list[tuple[int, AudioChunk | RemixError]] = []
        self.shed: list[int] = []
        self.done = asyncio.Event()

    def next_chunk(self, now: float) -> tuple[ChunkJob, int, float] | None:
        if self.asked:
            return None
        self.asked = True
        return self.job, 0, self.deadline

    def chunk_ready(self, sequence: int, result: AudioChunk | RemixError) -> None:
        self.ready.append((sequence, result))
        self.done.set()

    def chunk_shed(self, sequence: int) -> None:
        self.shed.append(sequence)
        self.done.set()


def test_fans_on_the_same_mix_share_a_render_and_late_chunks_are_shed_and_counted(
        short_stems: dict[str, Path]) -> None:
    files = tuple(StemFile(name, f"sha-{name}", str(short_stems[name])) for name in STEM_NAMES)

    def job(gain: float, start: float) -> ChunkJob:
        mix = json.dumps({"stems": {"soprano": {"gain_db": gain}}}, sort_keys=True)
        return ChunkJob(files, RATE, mix, start, 0.15)

    async def scenario() -> tuple[list[Fan], list[Fan], list[Fan], AudioRenderer]:
        renderer = AudioRenderer(workers=1, max_batch=4)
        loop = asyncio.get_running_loop()
        now = loop.time()
        # Two fans on the same mix at the same spot, one on another mix (due in a minute: the mixer
        # processes may still be starting on a busy machine).
        same = [Fan(job(-3.0, 1.0), now + 60), Fan(job(-3.0, 1.0), now + 60)]
        other = [Fan(job(2.0, 1.0), now + 60)]
        # 60 fans whose chunks should have started playing a second ago (the mixers fell behind):
        # rendering them now would only make the chunks after them late too, so they are shed.
        late = [Fan(job(-10.0 + i * 0.1, 0.5), now - 1.0) for i in range(60)]
        for i, fan in enumerate([*same, *other, *late]):
            renderer.register(str(i), fan)
        renderer.start()
        await asyncio.wait_for(asyncio.gather(*(f.done.wait() for f in [*same, *other, *late])), 120)
        await renderer.stop()
        return same, other, late, renderer

    same, other, late, renderer = asyncio.run(scenario())
    a, b = same[0].ready[0][1], same[1].ready[0][1]
    assert isinstance(a, AudioChunk) and isinstance(b, AudioChunk)
    assert a.wav == b.wav and renderer.stats.shared == 1
    stems = {name: decode_stem(path, RATE) for name, path in short_stems.items()}
    alone = render_chunk(stems, spec_for_window({"stems": {"soprano": {"gain_db": -3.0}}}, 1.0, 0.15), RATE)
    assert a.wav == alone.wav  # the mixer process renders exactly what the engine does here
    other_chunk = other[0].ready[0][1]
    assert isinstance(other_chunk, AudioChunk) and other_chunk.wav != a.wav
    # Every late fan is told its chunk was shed (it counts it, and the ping ack reports it); none is sent late.
    assert all(f.shed == [0] and not f.ready for f in late)
    assert renderer.stats.shed == 60 and renderer.stats.rendered == 2
