"""The live-session fixtures (a track with real stems and a grant), for tests of live sessions across processes."""

from tests.live.conftest import _live_setup, live_track, short_stems  # noqa: F401
