"""Keep the garbage collector's full passes short, so they do not stall the event loop.

A full (oldest-generation) collection walks every tracked object. After start-up the server holds some
200,000 of them (the imported modules, SQLAlchemy's mappers, pydantic's schemas) that live as long as the
process, and with hundreds of live sessions each full pass took 0.1–1 s of wall time on a busy 2-core
machine: every control message that arrived meanwhile waited, which was the whole of the live load
benchmark's ack p99. :func:`settle_heap` collects once and then *freezes* what survives (``gc.freeze``:
moved to a permanent generation the collector no longer walks), so later passes only walk what was made
since: sessions, messages, requests; and it raises the young generation's threshold (see
``YOUNG_THRESHOLD``) so that short-lived objects die young instead of filling the oldest generation.
"""

from __future__ import annotations

import gc

# Allocations between young-generation passes (Python's default is 700). Under load the event loop allocates
# ~300,000 objects a second; at 700, objects that live a few tens of milliseconds (a message waiting for its
# ack, a timer) survived two passes and reached the oldest generation, which then filled up and was walked in
# full every few seconds. At 20,000 a young pass walks at most that many objects (about a millisecond) and
# only what lives over a second grows old.
YOUNG_THRESHOLD = 20_000

_settled = False


def settle_heap() -> None:
    """Collect, then exclude everything alive now from later collections (call once start-up is done).

    Once per process: a test run builds many apps, and each further full collection would cost as much as
    the pause this avoids.
    """
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)
