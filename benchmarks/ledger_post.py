"""Sale postings per second through the signed Stripe webhook path, 4-payee split, on PostgreSQL.

Each posting is one HTTP request to ``POST /api/commerce/stripe/webhook`` carrying a signed
``payment_intent.succeeded`` event: signature check, event stored (on conflict do nothing), order row lock,
balanced sale transaction with 4 payee shares, consent check, entitlement, licence, audit event, commit.
Concurrent deliveries are group-committed (``remix/commerce/group_commit.py``): the server posts whatever
arrived together in one transaction and answers each request after that commit, so the batch size is set
by how many requests are in flight (``--workers``), not by this benchmark.

    .venv/bin/python benchmarks/ledger_post.py --postings 1000 --workers 8 [--runs 5]
    .venv/bin/python benchmarks/ledger_post.py --postings 2000 --workers 32

The database (``--database-url``, default ``remix_bench`` on 127.0.0.1) is created if missing and EMPTIED
first (never point this at data you keep). Target: >= 500 postings/s. The long render that a payment starts
is switched off (it runs on a worker after commit and is not part of posting). ``--workers N`` sends from N
threads over HTTP to a uvicorn server running in ``--server-processes`` separate processes (default 1;
production runs >= 2 API processes, see docs/deploy.md), so the client does not share the server's
interpreter lock; ``--workers 0`` calls the app in-process through TestClient, one request at a time.

Output, one line per run (``--runs`` runs against the same server, then their median): postings/s (wall),
p50/p99 latency, mean batch (sales per transaction, from the transactions'
shared ``posted_at``), server and client CPU per posting (steadier than wall rates on a busy machine), and
the load average when the run ended. Before group commit the same command gave 56 postings/s (load 2.2).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import multiprocessing
import socket
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import numpy as np
import psutil
import soundfile
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from remix.app import create_app
from remix.auth import service as accounts
from remix.auth.models import Role
from remix.catalog import service as catalog
from remix.catalog.models import Scope
from remix.commerce import orders, splits
from remix.commerce.config import CommerceSettings
from remix.commerce.models import PayeeRole
from remix.config import Settings
from remix.db import migrate
from remix.models_registry import Base

SECRET = "whsec_benchmark"
SPLIT = ((PayeeRole.artist, 4001), (PayeeRole.label, 2999), (PayeeRole.songwriter, 2000), (PayeeRole.platform, 1000))


def prepare_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first():
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    migrate(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def wav() -> bytes:
    buffer = io.BytesIO()
    t = np.arange(22050) / 22050
    soundfile.write(buffer, 0.2 * np.sin(2 * np.pi * 220 * t), 22050, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def seed(app_settings: Settings, sessionmaker: object, count: int) -> list[str]:
    """A track with a stem, consent, 4 payees, an approved split, a price, and ``count`` pending orders."""
    factory = sessionmaker
    with factory.begin() as session:  # type: ignore[attr-defined]
        admin = accounts.create_user(session, email="admin@bench.example", display_name="Admin", password="x" * 12,
                                     role=Role.admin)
        fan = accounts.create_user(session, email="fan@bench.example", display_name="Fan", password="x" * 12,
                                   role=Role.fan)
        artist = catalog.create_artist(session, admin, "Bench Artist", "")
        album = catalog.create_album(session, admin, artist.id, "Bench LP", 2026)
        track = catalog.create_track(session, admin, album.id, "Bench Song", 1, 100.0, "C major")
        catalog.upload_stem(session, app_settings, admin, track.id,
                            catalog.Upload(io.BytesIO(wav()), "drums.wav", "audio/wav"), "drums")
        catalog.grant_consent(session, admin, Scope.sell_extended, asset_id=None, album_id=album.id,
                              expires_at=None, terms="")
        lines = []
        for role, bp in SPLIT:
            payee = splits.create_payee(session, admin, f"Bench {role.value}", None, None)
            lines.append(splits.SplitLineIn(payee.id, role, bp))
        sheet = splits.propose_split_sheet(session, admin, track.id, lines, "")
        splits.accept_split_sheet(session, admin, sheet.id)
        splits.approve_split_sheet(session, admin, sheet.id)
        splits.set_product(session, admin, track.id, "full_length", 999, "EUR", None, "", True)
        intents = []
        for i in range(count):
            # A distinct RemixSpec per order (the seed differs), so each order has its own spec hash.
            spec = {"seed": i, "window": {"start_seconds": 0.0, "length_seconds": 1.0}}
            order = orders.open_order(session, fan, track.id, "full_length", spec, f"{i:032x}")
            order.payment_intent_id = f"pi_bench_{i}"
            intents.append(order.payment_intent_id)
        session.flush()
    return intents


def signed(pi: str, index: int) -> tuple[bytes, dict[str, str]]:
    event = {"id": f"evt_bench_{index}", "object": "event", "type": "payment_intent.succeeded",
             "created": int(time.time()), "data": {"object": {"id": pi, "object": "payment_intent", "amount": 999,
                                                              "currency": "eur", "status": "succeeded"}}}
    payload = json.dumps(event).encode()
    t = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, {"Stripe-Signature": f"t={t},v1={digest}", "Content-Type": "application/json"}


def bench_settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(environment="test", database_url=database_url, data_dir=data_dir, migrate_on_start=False)


def serve(database_url: str, data_dir: Path, sock: socket.socket) -> None:
    """One server process: the app as ``remix serve`` builds it, with the benchmark's webhook secret."""
    import uvicorn

    app = create_app(bench_settings(database_url, data_dir))
    app.state.commerce_settings = CommerceSettings(stripe_webhook_secret=SECRET, render_on_payment=False)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="none")).run(
        sockets=[sock])


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def wait_until_serving(client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.get("/healthz")
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def counts(app: Any) -> tuple[int, int, int]:
    """Sale transactions, ledger entries, and transactions (batches: a batch's sales share posted_at)."""
    with app.state.sessionmaker() as session:
        sales = session.execute(text("SELECT count(*) FROM ledger_transactions WHERE kind = 'sale'")).scalar()
        entries = session.execute(text("SELECT count(*) FROM ledger_entries")).scalar()
        batches = session.execute(text("SELECT count(DISTINCT posted_at) FROM ledger_transactions")).scalar()
    return int(sales or 0), int(entries or 0), int(batches or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/remix_bench")
    parser.add_argument("--postings", type=int, default=2000, help="postings per run")
    parser.add_argument("--runs", type=int, default=1, help="runs against the same server; the median is printed")
    parser.add_argument("--workers", type=int, default=0, help="0 = in-process client; N = N threads over HTTP")
    parser.add_argument("--server-processes", type=int, default=1,
                        help="uvicorn server processes answering the HTTP workers (each with its own pool)")
    args = parser.parse_args()

    prepare_database(args.database_url)
    with TemporaryDirectory() as tmp:
        settings = bench_settings(args.database_url, Path(tmp))
        app = create_app(settings)
        app.state.commerce_settings = CommerceSettings(stripe_webhook_secret=SECRET, render_on_payment=False)
        intents = seed(settings, app.state.sessionmaker, args.postings * args.runs)
        requests = [signed(pi, i) for i, pi in enumerate(intents)]
        mode = ("in-process" if args.workers <= 0
                else f"{args.workers} HTTP workers, {args.server_processes} server process(es)")
        rates: list[float] = []
        server_ms: list[float] = []

        def measure(post_all: Any, chunk: list[tuple[bytes, dict[str, str]]], processes: list[psutil.Process]) -> None:
            latencies: list[float] = []

            def send(client: Any, item: tuple[bytes, dict[str, str]]) -> None:  # httpx or TestClient
                started = time.perf_counter()
                r = client.post("/api/commerce/stripe/webhook", content=item[0], headers=item[1])
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200 or r.json()["status"] != "processed":
                    raise RuntimeError(r.text)

            sales_before, entries_before, batches_before = counts(app)
            cpu_before = sum(cpu_seconds(p) for p in processes)
            client_before = time.process_time()
            started = time.perf_counter()
            post_all(send, chunk)
            elapsed = time.perf_counter() - started
            client_cpu = time.process_time() - client_before
            sales, entries, batches = counts(app)
            n = len(chunk)
            if sales - sales_before != n:
                raise SystemExit("posting count does not match the events sent")
            latencies.sort()
            detail = mode
            if processes:  # CPU per posting is less disturbed than wall time when other work shares the machine
                server_cpu = sum(cpu_seconds(p) for p in processes) - cpu_before
                server_ms.append(server_cpu / n * 1000)
                detail += (f"; server CPU {server_cpu / n * 1000:.1f} ms per posting, "
                           f"client CPU {client_cpu / n * 1000:.1f} ms")
            rates.append(n / elapsed)
            print(f"sale postings: {n} ({entries - entries_before} ledger entries) in {elapsed:.2f} s "
                  f"-> {n / elapsed:.0f} postings/s "
                  f"(p50 {statistics.median(latencies) * 1000:.1f} ms, "
                  f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, "
                  f"mean batch {n / max(batches - batches_before, 1):.1f} postings per transaction, "
                  f"mode: {detail}; load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])})",
                  flush=True)

        chunks = [requests[i * args.postings:(i + 1) * args.postings] for i in range(args.runs)]
        if args.workers <= 0:
            from fastapi.testclient import TestClient

            with TestClient(app) as test_client:
                for chunk in chunks:
                    measure(lambda send, items: [send(test_client, item) for item in items], chunk, [])
        else:
            context = multiprocessing.get_context("spawn")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(1024)
            servers = [context.Process(target=serve, args=(args.database_url, Path(tmp), sock), daemon=True)
                       for _ in range(args.server_processes)]
            for server in servers:
                server.start()
            base = f"http://127.0.0.1:{sock.getsockname()[1]}"
            with httpx.Client(base_url=base, timeout=60) as client, ThreadPoolExecutor(args.workers) as pool:
                wait_until_serving(client)
                processes = [psutil.Process(server.pid) for server in servers]
                for chunk in chunks:
                    measure(lambda send, items: list(pool.map(lambda item: send(client, item), items)), chunk,
                            processes)
            for server in servers:
                server.terminate()
                server.join(timeout=10)
        if args.runs > 1:
            summary = f"median of {args.runs} runs: {statistics.median(rates):.0f} postings/s"
            if server_ms:
                summary += f", server CPU {statistics.median(server_ms):.1f} ms per posting"
            print(summary + f" (runs: {', '.join(f'{r:.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
