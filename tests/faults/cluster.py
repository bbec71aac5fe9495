"""A production-mode cluster on loopback: our own redis-server and `remix serve` / `remix worker` processes.

Each process is a real OS process we can ``kill -9``. Logs go to files under the test's directory and are
printed when a step fails, so a failure in CI says which process did what.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from tests.loopback import free_port

PYTHON = sys.executable
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def wait_until(condition: object, seconds: float, what: str, interval: float = 0.02) -> float:
    """Poll ``condition()`` until true; returns the seconds it took. Fails naming ``what``."""
    started = time.monotonic()
    while True:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{what}: not within {seconds:g} s")
        time.sleep(interval)


@dataclass
class RedisServer:
    """Our own Redis (append-only file, fsync on every write), so a restart keeps what was written."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=1)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", "redis.log"])

        def answers() -> bool:
            try:
                return bool(self.client().ping())
            except redis.RedisError:
                return False

        wait_until(answers, 10, "redis-server answers")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # a clean shutdown: the append-only file is synced
            self.process.wait(10)
        self.process = None


@dataclass
class ServiceProcess:
    """``remix serve`` (``kind="api"``) or ``remix worker`` with the cluster's environment."""

    name: str
    args: list[str]
    env: dict[str, str]
    root: Path
    port: int | None = None
    ready_text: str = ""  # without a port: ready once the log shows this
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / f"{self.name}.log"

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen([PYTHON, "-m", "remix.cli", *self.args], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def wait_ready(self, seconds: float = 300) -> None:  # importing torch on a busy 2-core machine is slow
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.port is None:
                return self.log_path.exists() and self.ready_text in self.log_path.read_text(errors="replace")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, seconds, f"{self.name} ready", interval=0.1)

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def service_env(database_url: str, data_dir: Path, redis_url: str, **extra: str) -> dict[str, str]:
    from tests.commerce.conftest import WEBHOOK_SECRET

    return {**os.environ, "REMIX_DATABASE_URL": database_url, "REMIX_ENVIRONMENT": "test",
            "REMIX_MIGRATE_ON_START": "false", "REMIX_DATA_DIR": str(data_dir), "REMIX_REDIS_URL": redis_url,
            "REMIX_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "REMIX_LOG_FORMAT": "json", **extra}


def api_process(name: str, root: Path, env: dict[str, str]) -> ServiceProcess:
    port = free_port()
    return ServiceProcess(name, ["serve", "--host", "127.0.0.1", "--port", str(port)], env, root, port=port)


def worker_process(name: str, root: Path, env: dict[str, str]) -> ServiceProcess:
    return ServiceProcess(name, ["worker", "--name", name], env, root, ready_text=f"render worker {name} consuming")
