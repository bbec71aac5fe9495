"""Load benchmark for live fan sessions: N concurrent websocket fans against a real server on loopback.

It seeds a fresh SQLite database with one artist, one track (four real chorale stems, synthesised from the
Bach score in music21's corpus) and a live ``remix_preview`` grant, optionally trains and approves a tiny
visual model (``--visuals``), starts ``uvicorn`` on a free 127.0.0.1 port, and drives ``--fans`` websocket
clients for ``--seconds`` (both bounded). Each fan plays the track and sends a realistic stream: a fader
move every 200 ms, a ping every second, a new prompt every 4 s. It prints p50/p99 ack latency (send → ack),
acks lost (sent, never answered), typed errors by kind, frames and audio chunks received per fan, the
media the server reports it shed (ping acks), and the resident memory of the server and its mixers.

The fans run in ``--client-processes`` separate processes (uvloop event loops), so the load client never
shares the server's event loop or GIL; on a 2-core machine they still share the CPU with the server.

    .venv/bin/python benchmarks/live_load.py --fans 100 --seconds 20
    .venv/bin/python benchmarks/live_load.py --fans 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import psutil
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_FANS = 1000
MAX_SECONDS = 120
PASSWORD = "benchmark password 1"
STEM_SECONDS = 12.0
SAMPLE_RATE = 44_100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chorale_stems(out: Path) -> dict[str, Path]:
    """Four stems of BWV 66.6, additive synthesis of the real score (no SoundFont needed)."""
    from music21 import corpus

    names = {"Soprano": ("soprano", -0.3), "Alto": ("alto", -0.1), "Tenor": ("tenor", 0.1), "Bass": ("bass", 0.3)}
    frames = round(STEM_SECONDS * SAMPLE_RATE)
    paths = {}
    for part in corpus.parse("bach/bwv66.6").parts:
        name, pan = names[str(part.partName)]
        mono = np.zeros(frames)
        for n in part.flatten().notes:
            if not hasattr(n, "pitch"):
                continue
            start = round(float(n.offset) * 60 / 135 * SAMPLE_RATE)
            length = min(round(float(n.quarterLength) * 60 / 135 * SAMPLE_RATE), frames - start)
            if length <= 0:
                continue
            t = np.arange(length) / SAMPLE_RATE
            tone = sum(np.sin(2 * np.pi * float(n.pitch.frequency) * h * t) / h**1.5 for h in range(1, 6))
            mono[start:start + length] += 0.15 * tone * np.minimum(1, t / 0.02)
        stereo = np.stack([mono * np.cos((pan + 1) * np.pi / 4), mono * np.sin((pan + 1) * np.pi / 4)], axis=1)
        paths[name] = out / f"{name}.wav"
        soundfile.write(paths[name], stereo.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    return paths


def seed(env: dict[str, str], workdir: Path, visuals: bool) -> None:
    """Accounts, artist, album, track (stems are uploaded over HTTP once the server runs), visual model."""
    os.environ.update(env)
    from remix.auth import service as accounts
    from remix.auth.models import Role
    from remix.catalog import service as catalog
    from remix.config import Settings
    from remix.db import make_engine, make_sessionmaker, migrate

    settings = Settings()
    migrate(settings.database_url)
    factory = make_sessionmaker(make_engine(settings.database_url))
    with factory.begin() as session:
        admin = accounts.create_user(session, email="admin@bench.example", display_name="Admin", password=PASSWORD,
                                     role=Role.admin)
        artist = catalog.create_artist(session, admin, "The Benchmark Consort", "")
        album = catalog.create_album(session, admin, artist.id, "Load", 2026)
        catalog.create_track(session, admin, album.id, "BWV 66.6", 1, 135.0, "F# minor")
        accounts.create_user(session, email="artist@bench.example", display_name="Artist", password=PASSWORD,
                             role=Role.artist, artist_ids=[artist.id])
        accounts.create_user(session, email="fan@bench.example", display_name="Fan", password=PASSWORD,
                             role=Role.fan)


def prepare_track(base: str, workdir: Path, visuals: bool, env: dict[str, str]) -> tuple[int, str]:
    with httpx.Client(base_url=base, timeout=60) as http:
        def login(email: str) -> dict[str, str]:
            r = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            return {"Authorization": f"Bearer {r.json()['token']}"}

        artist, fan = login("artist@bench.example"), login("fan@bench.example")
        for name, path in chorale_stems(workdir).items():
            with path.open("rb") as f:
                r = http.post("/api/tracks/1/stems", headers=artist, data={"stem_name": name},
                              files={"file": (path.name, f, "audio/wav")})
            r.raise_for_status()
        for scope in ("remix_preview", *(("train_visual",) if visuals else ())):
            http.post("/api/consent/grants", json={"scope": scope, "album_id": 1}, headers=artist).raise_for_status()
        if visuals:
            import io

            from PIL import Image
            from skimage import data
            buffer = io.BytesIO()
            Image.fromarray(data.astronaut()).resize((96, 96)).save(buffer, format="PNG")
            http.post("/api/albums/1/artwork", headers=artist, data={"title": "Orange", "caption": "astronaut"},
                      files={"file": ("a.png", buffer.getvalue(), "image/png")}).raise_for_status()
            r = http.post("/api/albums/1/visual-models", headers=artist, json={"preset": "tiny", "steps": 20})
            r.raise_for_status()
            model_id = r.json()["id"]
            while http.get(f"/api/visual-models/{model_id}", headers=artist).json()["status"] == "training":
                time.sleep(0.5)
            http.post(f"/api/visual-models/{model_id}/approve", headers=artist).raise_for_status()
        return 1, fan["Authorization"].split(" ", 1)[1]


@dataclass
class FanStats:
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    images: int = 0
    audio: int = 0
    connect_failed: str = ""
    connect_ms: float = 0.0  # connect → the session's state message
    server: dict[str, Any] = field(default_factory=dict)  # the last ping ack: what the server dropped or shed


PROMPTS = ["stars over a harbour", "orange astronaut", "rain on a tin roof", "a field of sunflowers",
           "neon city at night", "waves in moonlight"]


class LeanFan(asyncio.Protocol):
    """One fan as a bare RFC 6455 client on an asyncio protocol: no per-message tasks, queues or copies.

    The load client shares the machine's cores with the server, so what it spends per message is taken
    from the server; the ``websockets`` client cost about 100 µs per message, this one a fraction. The
    latency is measured where the bytes are: ``perf_counter`` right before a message is written to the
    socket and right when its answer is parsed out of the received bytes. Client frames are masked as the
    protocol requires (a fresh random key per connection); binary media frames are counted by their
    header (kind at byte 3) and their payload is skipped, never buffered.
    """

    def __init__(self, host: str, path: str, token: str, stats: FanStats) -> None:
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                        f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
        self.stats = stats
        self.mask = os.urandom(4)
        self.buffer = bytearray()
        self.skip = 0  # bytes of a media frame still to arrive, to be dropped unread
        self.upgraded = False
        self.pending: dict[str, float] = {}
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before the session opened"))
        if not self.closed.done():
            self.closed.set_result(None)

    def frame(self, opcode: int, payload: bytes) -> bytes:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        key = int.from_bytes((self.mask * (n // 4 + 1))[:n], "big")
        return head + self.mask + (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")

    def send(self, message_id: str, text: str) -> None:
        assert self.transport is not None
        data = self.frame(0x1, text.encode())
        self.stats.sent += 1
        self.pending[message_id] = time.perf_counter()
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        view = memoryview(data)
        if self.skip:  # the rest of a media frame already counted: dropped without copying
            n = min(self.skip, len(view))
            self.skip -= n
            view = view[n:]
            if not view:
                return
        buffer = self.buffer
        buffer += view
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:12])
            del buffer[:end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.upgraded = True
        now = time.perf_counter()
        offset, size = 0, len(buffer)
        while size - offset >= 2:
            opcode, length = buffer[offset] & 0x0F, buffer[offset + 1] & 0x7F
            head = 2
            if length == 126:
                if size - offset < 4:
                    break
                length, head = int.from_bytes(buffer[offset + 2:offset + 4], "big"), 4
            elif length == 127:
                if size - offset < 10:
                    break
                length, head = int.from_bytes(buffer[offset + 2:offset + 10], "big"), 10
            start = offset + head
            if opcode == 0x2:  # media: its kind (byte 3 of its header) is all we need
                if size - start < 4:
                    break
                if buffer[start + 3] in (1, 2):
                    self.stats.images += 1
                else:
                    self.stats.audio += 1
                if size < start + length:  # skip the rest as it arrives
                    self.skip = start + length - size
                    offset = size
                    break
                offset = start + length
                continue
            if size - start < length:
                break
            offset = start + length
            if opcode == 0x1:
                self.text(json.loads(bytes(buffer[start:offset])), now)
            elif opcode == 0x9 and self.transport is not None:  # the server's keepalive ping
                self.transport.write(self.frame(0xA, bytes(buffer[start:offset])))
            elif opcode == 0x8:
                self.close()
        del buffer[:offset]

    def text(self, data: dict[str, Any], now: float) -> None:
        if not self.opened.done():
            if data.get("type") == "state":  # the session is open
                self.opened.set_result(None)
            return
        sent_at = self.pending.pop(data.get("id") or "", None)
        if data["type"] == "ack" and sent_at is not None:
            self.stats.acked += 1
            self.stats.latencies_ms.append((now - sent_at) * 1000)
            if "audio_shed" in data:
                self.stats.server = data
        elif data["type"] == "error":
            self.stats.errors[data["error"]] += 1
            if sent_at is not None:
                self.stats.acked += 1  # answered (with a typed error): not lost
                self.stats.latencies_ms.append((now - sent_at) * 1000)


async def fan(url: str, token: str, seconds: float, stats: FanStats, rng: random.Random, gate: asyncio.Semaphore,
              connected: asyncio.Event, go: asyncio.Event) -> None:
    """One fan: connect (25 at a time), wait for the go, then play and send the documented message stream."""
    loop = asyncio.get_running_loop()
    address = url.removeprefix("ws://")
    hostport, _, path = address.partition("/")
    host, _, port = hostport.partition(":")
    try:
        async with gate:  # the audience arrives in waves
            started = time.perf_counter()
            _, client = await asyncio.wait_for(loop.create_connection(
                lambda: LeanFan(hostport, "/" + path, token, stats), host, int(port)), 120)
            await asyncio.wait_for(client.opened, 120)
            stats.connect_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:  # counted, not raised: one failed fan must not stop the run
        stats.connect_failed = type(exc).__name__
        return
    finally:
        connected.set()
    try:
        await go.wait()  # everyone is connected: the show starts (each fan at its own moment within 200 ms)
        await asyncio.sleep(rng.uniform(0, 0.2))
        n = 0
        client.send("play", '{"type":"play","id":"play"}')
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await asyncio.sleep(0.2 + rng.uniform(-0.05, 0.05))
            n += 1
            stem = rng.choice(["soprano", "alto", "tenor", "bass"])
            client.send(f"m{n}", f'{{"type":"mix","id":"m{n}","spec":{{"stems":{{"{stem}":'
                                 f'{{"gain_db":{round(rng.uniform(-20, 6), 1)}}}}}}}}}')
            if n % 5 == 0:
                client.send(f"p{n}", f'{{"type":"ping","id":"p{n}"}}')
            if n % 20 == 0:
                client.send(f"t{n}", json.dumps({"type": "prompt", "id": f"t{n}", "text": rng.choice(PROMPTS)}))
        client.send("last", '{"type":"ping","id":"last"}')  # the server's final count of shed and dropped media
        grace = time.monotonic() + 15  # let the last answers arrive; what is still missing then is lost
        while client.pending and time.monotonic() < grace:
            await asyncio.sleep(0.1)
    finally:
        client.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(url: str, token: str, first: int, count: int, seconds: float,
                parent: Any) -> tuple[list[FanStats], float]:
    """Connect ``count`` fans, tell ``parent`` and wait for its go (every process connected), then run them;
    returns their stats and the CPU seconds this process used from the go on."""
    stats = [FanStats() for _ in range(count)]
    gate = asyncio.Semaphore(25)
    go = asyncio.Event()
    connected = [asyncio.Event() for _ in range(count)]
    fans = [asyncio.create_task(fan(url, token, seconds, stats[i], random.Random(first + i), gate, connected[i], go))
            for i in range(count)]
    for event in connected:
        await event.wait()
    parent.send("connected")
    await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    go.set()
    cpu_at_go = time.process_time()
    await asyncio.gather(*fans)
    return stats, time.process_time() - cpu_at_go


def client_process(url: str, token: str, first: int, count: int, seconds: float, out: Any) -> None:
    """One load-client process: ``count`` fans on its own event loop; the stats go back through ``out``."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the standard loop only makes the client slower, the numbers stay honest
        pass
    gc.collect()  # as the server does (remix.gc_policy): no full collection pauses the fans mid-run
    gc.freeze()
    stats, playing_cpu = asyncio.run(drive(url, token, first, count, seconds, out))
    out.send(([s.__dict__ for s in stats], time.process_time(), playing_cpu))
    out.close()


def run_clients(url: str, token: str, fans: int, seconds: float, processes: int,
                server: psutil.Process) -> tuple[list[FanStats], tuple[float, float], tuple[float, float], float]:
    """Run the fans; returns their stats, the clients' CPU seconds (whole run, and while playing), and the
    server's CPU seconds and the time when every fan had connected (the play phase is measured from there)."""
    context = multiprocessing.get_context("spawn")
    shares = [fans // processes + (1 if i < fans % processes else 0) for i in range(processes)]
    workers, pipes, first = [], [], 0
    for share in shares:
        if not share:
            continue
        receiver, sender = context.Pipe()
        worker = context.Process(target=client_process, args=(url, token, first, share, seconds, sender))
        worker.start()
        workers.append(worker)
        pipes.append(receiver)
        first += share
    for receiver in pipes:
        assert receiver.recv() == "connected"
    _, cpu_at_go = server_usage(server)
    go_at = time.monotonic()
    for receiver in pipes:
        receiver.send("go")
    stats, cpu, playing = [], 0.0, 0.0
    for receiver in pipes:
        fans_data, seconds_used, playing_cpu = receiver.recv()
        cpu += seconds_used
        playing += playing_cpu
        for data in fans_data:
            stats.append(FanStats(**{**data, "errors": Counter(data["errors"])}))
    for worker in workers:
        worker.join(30)
    return stats, (cpu, playing), cpu_at_go, go_at


def server_usage(process: psutil.Process) -> tuple[tuple[int, int], tuple[float, float]]:
    """(RSS, CPU seconds) of the server's own process and, summed, of its children (the mixer processes)."""
    rss, cpu = 0, 0.0
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            rss += child.memory_info().rss
            times = child.cpu_times()
            cpu += times.user + times.system
    own = process.cpu_times()
    return (process.memory_info().rss, rss), (own.user + own.system, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fans", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--visuals", action="store_true", help="train and approve a tiny visual model first")
    parser.add_argument("--client-processes", type=int, default=2, help="load-client processes (default 2)")
    args = parser.parse_args()
    fans, seconds = min(args.fans, MAX_FANS), min(args.seconds, MAX_SECONDS)

    with tempfile.TemporaryDirectory(prefix="remix-live-bench-") as tmp:
        workdir = Path(tmp)
        env = {"REMIX_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "REMIX_DATA_DIR": str(workdir / "data"),
               "REMIX_MIGRATE_ON_START": "false", "REMIX_ENVIRONMENT": "development", "HF_HUB_OFFLINE": "1"}
        seed(env, workdir, args.visuals)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "remix.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--ws-max-size", "65536",
             "--ws-per-message-deflate", "false"],
            cwd=ROOT, env={**os.environ, **env})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            track_id, token = prepare_track(base, workdir, args.visuals, env)
            process = psutil.Process(server.pid)
            rss_before, _ = server_usage(process)
            load_before = os.getloadavg()
            started = time.monotonic()
            stats, client_cpu, cpu_before, go_at = run_clients(
                f"ws://127.0.0.1:{port}/api/tracks/{track_id}/live", token, fans, seconds,
                max(1, min(args.client_processes, 16)), process)
            ended = time.monotonic()
            elapsed, played = ended - started, ended - go_at
            rss_after, cpu_after = server_usage(process)
            load_after = os.getloadavg()
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()

    latencies = [lat for s in stats for lat in s.latencies_ms]
    sent, answered = sum(s.sent for s in stats), sum(s.acked for s in stats)
    errors: Counter[str] = Counter()
    for s in stats:
        errors.update(s.errors)
    failed = [s.connect_failed for s in stats if s.connect_failed]
    connected = [s for s in stats if not s.connect_failed]
    print(f"fans: {fans} ({len(connected)} connected, {len(failed)} failed {Counter(failed) or ''}) for "
          f"{seconds:g} s (run {elapsed:.1f} s), visuals: {'on' if args.visuals else 'off'}")
    connects = [s.connect_ms for s in connected]
    print(f"connect → session open ms (25 at a time, before the run): p50 {percentile(connects, 0.5):.0f}  "
          f"p99 {percentile(connects, 0.99):.0f}")
    print(f"control messages: {sent} sent, {answered} answered, {sent - answered} lost")
    print(f"ack latency ms: p50 {percentile(latencies, 0.5):.1f}  p99 {percentile(latencies, 0.99):.1f}  "
          f"max {max(latencies, default=float('nan')):.1f}")
    print(f"typed errors: {dict(errors) or 'none'}")
    per_fan_audio = [s.audio for s in connected] or [0]
    per_fan_images = [s.images for s in connected] or [0]
    print(f"audio chunks per fan: mean {statistics.mean(per_fan_audio):.1f} (min {min(per_fan_audio)}, "
          f"max {max(per_fan_audio)}); {statistics.mean(per_fan_audio) / seconds:.2f}/s per fan vs 6.67/s real time")
    shed = sum(int(s.server.get("audio_shed", 0)) for s in connected)
    dropped = sum(int(s.server.get("audio_dropped", 0)) for s in connected)
    skipped = [float(s.server.get("audio_skipped_seconds", 0.0)) for s in connected] or [0.0]
    print(f"audio the server did not deliver: {shed} chunks shed (mixers behind), {dropped} dropped (client "
          f"behind); track time skipped per fan: mean {statistics.mean(skipped):.1f} s of {seconds:g} s")
    print(f"image frames per fan: mean {statistics.mean(per_fan_images):.1f} (min {min(per_fan_images)}, "
          f"max {max(per_fan_images)})")
    print(f"server RSS (event-loop process + mixer processes): {rss_before[0] / 2**20:.0f} + "
          f"{rss_before[1] / 2**20:.0f} MiB before, {rss_after[0] / 2**20:.0f} + {rss_after[1] / 2**20:.0f} MiB after")
    loop_cpu = cpu_after[0] - cpu_before[0]
    media = sum(s.audio + s.images for s in connected)
    print(f"CPU seconds while playing ({played:.1f} s wall, {os.cpu_count()} cores): server process (event loop "
          f"and its threads) {loop_cpu:.1f}, mixers {cpu_after[1] - cpu_before[1]:.1f}, load clients "
          f"{client_cpu[1]:.1f} ({client_cpu[0]:.1f} for their whole run, start-up and connects included)")
    print(f"per control message: server process {loop_cpu / max(sent, 1) * 1e6:.0f} µs (the {media} media frames it "
          f"sent included), load clients {client_cpu[1] / max(sent, 1) * 1e6:.0f} µs (the media they received "
          f"included); server process busy {loop_cpu / max(played, 1e-9) * 100:.0f} % of one core")
    print(f"load average (1/5/15 min): before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
          f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
