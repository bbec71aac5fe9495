"""ISO 4217 currencies we accept and how many decimals their minor unit has (Stripe's rules)."""

from __future__ import annotations

from remix.errors import BadRequest

# Stripe's zero-decimal currencies: the amount is in whole units.
ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
})
# Three-decimal currencies: Stripe requires the amount to be a multiple of 10 (the last digit is 0).
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
TWO_DECIMAL = frozenset({
    "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "INR",
    "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "USD", "ZAR",
})
KNOWN = ZERO_DECIMAL | THREE_DECIMAL | TWO_DECIMAL


def minor_unit_exponent(currency: str) -> int:
    """Decimals of ``currency``'s minor unit: 0 (JPY), 2 (EUR) or 3 (KWD)."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def normalise_currency(currency: str) -> str:
    """The upper-case ISO code, or :class:`BadRequest` naming an unsupported code."""
    code = currency.strip().upper()
    if code not in KNOWN:
        raise BadRequest(f"currency '{currency}' is not supported; use an ISO 4217 code such as EUR, USD, JPY, KWD")
    return code


def check_price(price_minor: int, currency: str) -> None:
    """Refuse prices Stripe would refuse: not positive, or a three-decimal amount not divisible by 10."""
    if price_minor <= 0:
        raise BadRequest("price_minor must be a positive number of minor units")
    if currency in THREE_DECIMAL and price_minor % 10:
        raise BadRequest(f"{currency} amounts must be multiples of 10 minor units (Stripe rounds the last digit)")


def format_minor(amount_minor: int, currency: str) -> str:
    """``1234, 'EUR'`` → ``'12.34'``; ``1234, 'JPY'`` → ``'1234'``; exact, no floats."""
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}" if exponent else f"{sign}{whole}"
