"""Offline payments for `remix demo`: a localstripe server, in its own process, standing in for Stripe.

Real Stripe cannot be reached from an offline demo, so without a configured Stripe (no
``REMIX_STRIPE_API_BASE`` and the default test key) the demo starts localstripe (the same fake the tests
pay through), points the app's payments at it, and registers the demo server's own webhook URL with a
fresh signing secret. Orders then go the production way: a PaymentIntent with Stripe's test card, and only
localstripe's signed ``payment_intent.succeeded`` webhook makes an order paid.
"""

from __future__ import annotations

import importlib.util
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from remix.commerce.config import CommerceSettings

WEBHOOK_PATH = "/api/commerce/stripe/webhook"
# localstripe keeps its webhook targets by id; one id, so a re-registration replaces rather than adds.
WEBHOOK_ID = "remix-demo"


class LocalStripeUnavailable(RuntimeError):
    """localstripe is not installed, or its process did not start answering."""


def stripe_is_configured(commerce: CommerceSettings) -> bool:
    """Whether the operator pointed payments somewhere: an API base, or a Stripe key other than the default."""
    default_key = CommerceSettings.model_fields["stripe_api_key"].default
    return commerce.stripe_api_base is not None or commerce.stripe_api_key != default_key


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalStripe:
    """A running localstripe process (``python -m localstripe``); stop it with :meth:`stop` or ``with``."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process, self.url, self.log_path = process, url, log_path

    @classmethod
    def start(cls, log_path: Path, timeout_seconds: float = 30) -> LocalStripe:
        """Start localstripe on a free loopback port and wait until it answers."""
        if importlib.util.find_spec("localstripe") is None:
            raise LocalStripeUnavailable("localstripe is not installed in this environment (`make setup` installs "
                                         "it); install it or pass --no-local-stripe")
        port = _free_loopback_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:  # the child keeps its own descriptor
            # --from-scratch: no customers or payments left over from an earlier run (localstripe would
            # otherwise reload them from its pickle in /tmp).
            process = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        stripe = cls(process, f"http://127.0.0.1:{port}", log_path)
        try:
            stripe._wait_until_answering(timeout_seconds)
        except BaseException:
            stripe.stop()
            raise
        return stripe

    def _wait_until_answering(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            if self.process.poll() is not None:
                raise LocalStripeUnavailable(f"localstripe exited with status {self.process.returncode} "
                                             f"(its log: {self.log_path})")
            try:
                # Any answer will do (401 without a key): the server is up.
                httpx.get(f"{self.url}/v1/customers", timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise LocalStripeUnavailable(f"localstripe did not answer on {self.url} within "
                                                 f"{timeout_seconds:.0f} s (its log: {self.log_path})") from None
                time.sleep(0.05)

    def wire(self, commerce: CommerceSettings, app_base_url: str) -> CommerceSettings:
        """Register ``app_base_url``'s Stripe webhook with localstripe under a fresh signing secret, and return
        ``commerce`` pointed at localstripe with that secret (the settings the app must use)."""
        secret = f"whsec_{secrets.token_hex(24)}"
        webhook_url = f"{app_base_url.rstrip('/')}{WEBHOOK_PATH}"
        answer = httpx.post(f"{self.url}/_config/webhooks/{WEBHOOK_ID}", data={"url": webhook_url, "secret": secret},
                            timeout=10)
        if answer.status_code != 200:
            raise LocalStripeUnavailable(f"localstripe refused the webhook {webhook_url}: "
                                         f"{answer.status_code} {answer.text[:200]}")
        return commerce.model_copy(update={"stripe_api_base": self.url, "stripe_webhook_secret": secret})

    def stop(self) -> None:
        """Terminate localstripe (kill it if it does not exit within 5 s); safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LocalStripe:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
