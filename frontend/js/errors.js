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

/**
 * An answer without the API's typed body: the server failed before it could say why (an unexpected fault,
 * logged with the request id it sends as X-Request-ID), or something between us and it answered. Said in
 * words, never as a bare "HTTP500"; the reference lets support find the log line.
 */
export function untypedError(status, requestId) {
  const reference = requestId ? ` (reference ${requestId})` : "";
  if (status >= 500) {
    return new ApiError("ServerError", `it has been logged${reference}, so nothing needs to be reported. Please try again in a moment.`, status);
  }
  return new ApiError("UnexpectedAnswer", `the server's answer could not be read${reference}. Please reload the page and try again.`, status);
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
  ServerError: "Something went wrong on the server",
  UnexpectedAnswer: "Unexpected answer from the server",
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
