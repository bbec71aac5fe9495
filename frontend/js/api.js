// Talking to the Remix API. The session lives in the HttpOnly `remix_session` cookie the server sets
// at login, so every call is a same-origin request with credentials and no token is kept in script.
import { ApiError, untypedError } from "./errors.js";

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy page, say): fall back to the status line.
  }
  if (body && typeof body.error === "string") return new ApiError(body.error, body.detail || "", response.status);
  return untypedError(response.status, response.headers.get("X-Request-ID"));
}

async function send(method, path, body, accept) {
  const init = { method, credentials: "same-origin", headers: { Accept: accept } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError("NetworkError", err.message, 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** A JSON call; resolves to the parsed body (null for 204). */
export async function apiJson(method, path, body) {
  const response = await send(method, path, body, "application/json");
  if (response.status === 204) return null;
  return response.json();
}

export const getJson = (path) => apiJson("GET", path);
export const postJson = (path, body) => apiJson("POST", path, body ?? {});

/** A call answering with bytes (an image, an audio chunk): resolves to {blob, response}. */
export async function apiBlob(method, path, body) {
  const response = await send(method, path, body, "*/*");
  return { blob: await response.blob(), response };
}

/**
 * Upload a multipart form with XMLHttpRequest, the one browser API that reports upload progress.
 * `onProgress(fraction)` gets 0..1 (or null when the size is unknown). Resolves to the JSON answer.
 */
export function uploadForm(path, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = true;
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      onProgress(event.lengthComputable ? event.loaded / event.total : null);
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body);
      } else if (body && typeof body.error === "string") {
        reject(new ApiError(body.error, body.detail || "", xhr.status));
      } else {
        reject(untypedError(xhr.status, xhr.getResponseHeader("X-Request-ID")));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError("NetworkError", "the upload did not reach the server", 0)));
    xhr.addEventListener("abort", () => reject(new ApiError("Aborted", "the upload was cancelled", 0)));
    xhr.send(formData);
  });
}
