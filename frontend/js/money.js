// Money from the API is an integer count of the currency's minor unit (cents, yen, fils) plus its ISO code.

const digitsCache = new Map();

/** How many minor-unit digits a currency has (2 for EUR, 0 for JPY, 3 for KWD), as the browser knows it. */
export function minorDigits(currency) {
  if (!digitsCache.has(currency)) {
    const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    digitsCache.set(currency, digits);
  }
  return digitsCache.get(currency);
}

/** 999, "EUR" → "€9.99" in the reader's locale. */
export function formatMoney(minor, currency) {
  const digits = minorDigits(currency);
  return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits })
    .format(minor / 10 ** digits);
}
