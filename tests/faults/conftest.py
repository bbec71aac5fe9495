"""Fixtures the fault tests share with the commerce tests (localstripe, a shop with an approved split)."""

from tests.commerce.conftest import commerce_settings, localstripe, shop  # noqa: F401
