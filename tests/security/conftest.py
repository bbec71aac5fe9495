"""The live-session fixtures (a track with real stems and a preview grant), shared with tests/live."""

from tests.live.conftest import _live_setup, live_track, short_stems  # noqa: F401
