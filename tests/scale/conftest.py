"""Fixtures of other areas used across processes here: the live track (real stems and a grant) and the shop
(a sellable track with localstripe)."""

from tests.commerce.conftest import commerce_settings, localstripe, shop  # noqa: F401
from tests.live.conftest import _live_setup, live_track, short_stems, visual_track  # noqa: F401
