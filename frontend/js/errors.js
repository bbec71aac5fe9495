// Turning refusals into sentences. The API answers {"error": Kind, "detail": what to fix}.

/** A refusal from the API (or a network failure, with kind "NetworkError"). */
export class ApiError extends Error {
  constructor(kind, detail, status) {
    super(detail);
    this.kind = kind;
    this.detail = detail;
    this.status = status;
  }
}

// Headline per error kind; the API's detail follows it. Unknown kinds get their name spelled out.
const HEADLINES = {
  Unauthorized: "Please log in",
  Forbidden: "Not allowed",
  ConsentNotGranted: "Not released by the artist",
  NotFound: "Not found",
  Conflict: "Already exists",
  BadRequest: "Please check your input",
  ValidationError: "Please check your input",
  PayloadTooLarge: "File too large",
  UnsupportedMedia: "File type refused",
  InvalidMedia: "File could not be read",
  LicenceRequired: "30-second limit",
  RemixSpecRejected: "This mix cannot be rendered",
  EncoderUnavailable: "The audio encoder is unavailable, please try again",
  NetworkError: "No connection to the server",
  PromptRefused: "Prompt refused",
  RateLimited: "Too fast, please wait a moment",
  InvalidMix: "This mix cannot be played live",
  Disconnected: "The live session is not connected",
  PaymentProviderUnavailable: "The payment provider is unavailable; nothing was charged",
  PaymentDeclined: "Payment not taken",
};

/** "FooBarBaz" → "Foo bar baz". */
function spellOut(kind) {
  return kind.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase())
    .replace(/ (\w)/g, (m) => m.toLowerCase());
}

export function headline(kind) {
  return HEADLINES[kind] || spellOut(kind || "Error");
}

/** The API's detail as a sentence: first letter capitalised. */
export function sentence(detail) {
  return detail ? detail.charAt(0).toUpperCase() + detail.slice(1) : "";
}

export function describeError(error) {
  if (error instanceof ApiError) {
    return error.detail ? `${headline(error.kind)}: ${error.detail}` : headline(error.kind);
  }
  return `Something went wrong: ${error && error.message ? error.message : error}`;
}
