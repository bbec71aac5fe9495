// Dates between the API (ISO 8601 with a timezone) and people (their own locale and timezone).

/** A `<input type="datetime-local">` value (local wall time) → ISO 8601 in UTC, or null when empty. */
export function localInputToIso(value) {
  if (!value) return null;
  const when = new Date(value);
  if (Number.isNaN(when.getTime())) throw new RangeError(`not a date and time: ${value}`);
  return when.toISOString();
}

const FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An API timestamp for display ("—" when absent). */
export function formatWhen(iso) {
  if (!iso) return "—";
  return FORMAT.format(new Date(iso));
}

/** Seconds → "m:ss.s". */
export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const m = Math.floor(seconds / 60);
  const s = seconds - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}
