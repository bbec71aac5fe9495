"""schemathesis against the app's own OpenAPI schema: generated requests, as a fan and as an admin, never 5xx.

Bounded (a few examples per operation, no shrinking past the first failure) so it stays a quick check in
every run; a failure prints the exact request to replay.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.auth.worlds import SharedWorld, shared_world

# Operations left out, and why: they start minutes of CPU work (training, catalog fingerprinting) that a fuzzer
# would start hundreds of times; their inputs are checked by their own tests.
SLOW_OPERATIONS = ("/api/albums/{album_id}/visual-models", "/api/provenance/catalog-fingerprints")


@pytest.fixture(scope="module", params=["sqlite"])
def fuzz_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               sqlite_template: Path) -> Iterator[SharedWorld]:
    yield from shared_world(request, tmp_path_factory, sqlite_template)


def test_no_server_errors(fuzz_world: SharedWorld) -> None:
    # schemathesis' own pytest integration does not run under pytest 9 yet; its strategies drive hypothesis here.
    app = fuzz_world.world.client.app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(method="POST", path=SLOW_OPERATIONS)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            for role in ("fan", "admin"):
                headers = fuzz_world.world.headers(role)
                try:
                    response = case.call(headers=headers)
                except Exception as exc:  # the test client re-raises what the app did not handle: a 500
                    raise AssertionError(f"{role}: {case.method} {case.formatted_path} raised {exc!r}\n"
                                         f"replay: {case.as_curl_command(headers=headers)}") from exc
                assert response.status_code < 500, (
                    f"{role}: {case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                    f"\nreplay: {case.as_curl_command(headers=headers)}")

        try:
            call()
        except AssertionError as exc:
            failures.append(str(exc).split("\n\nReproduce with")[0][:1500])
    assert operations > 50, "schemathesis found too few operations in the schema"
    assert failures == [], "\n\n".join(failures)


def test_a_download_link_with_a_non_ascii_signature_is_refused_not_a_crash(fuzz_world: SharedWorld) -> None:
    """Found by the fuzzer: the signature check raised on non-ASCII text (a 500) instead of refusing."""
    response = fuzz_world.world.client.get("/api/downloads/ord_x", params={"expires": 4102444800, "signature": "é"})
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"
