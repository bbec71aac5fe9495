"""Live session state in Redis: what one API process saves, another resumes; a Redis outage stalls nobody."""

from __future__ import annotations

import secrets
import threading
import time

from remix.live.store import SavedSession
from remix.scale.redis_conn import redis_client
from remix.scale.session_store import RedisSessionStore
from tests.ops.test_ops import REDIS_URL, _closed_port


def _state() -> SavedSession:
    return SavedSession(session_id=secrets.token_urlsafe(8), user_id=7, track_id=3,
                        mix={"tempo": 1.25, "stems": {"bass": {"gain_db": -6.0}}}, prompt="amber dusk",
                        position_seconds=12.5)


def test_a_session_saved_by_one_process_resumes_in_another() -> None:
    first, second = RedisSessionStore(redis_client(REDIS_URL)), RedisSessionStore(redis_client(REDIS_URL))
    state = _state()
    first.save(state)
    assert first.flush()
    loaded = second.load(state.session_id)
    assert loaded is not None and loaded.to_json() == state.to_json()
    second.delete(state.session_id)
    assert second.flush() and first.load(state.session_id) is None
    first.close()
    second.close()


def test_saving_while_redis_is_away_neither_blocks_nor_forgets() -> None:
    client = redis_client(f"redis://127.0.0.1:{_closed_port()}/0")
    talked_from: set[str] = set()  # the threads that tried to reach Redis
    execute = client.execute_command
    pipeline = client.pipeline

    def recording_execute(*args: object, **kwargs: object) -> object:
        talked_from.add(threading.current_thread().name)
        return execute(*args, **kwargs)

    def recording_pipeline(*args: object, **kwargs: object) -> object:
        talked_from.add(threading.current_thread().name)
        return pipeline(*args, **kwargs)

    client.execute_command = recording_execute  # type: ignore[method-assign]
    client.pipeline = recording_pipeline  # type: ignore[method-assign]
    store = RedisSessionStore(client, retry_seconds=0.05)
    state = _state()
    for _ in range(50):
        store.save(state)
    # The event loop never waits for Redis: saving only hands the state to the store's writer thread.
    assert threading.current_thread().name not in talked_from
    loaded = store.load(state.session_id)
    assert loaded is not None and loaded.prompt == "amber dusk"  # kept here until Redis is back
    assert not store.flush(timeout=0.5)
    deadline = time.monotonic() + 10
    while store.failures == 0:  # the writer keeps trying in the background
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert talked_from == {"redis-session-store"}
    store.close(timeout=0)
