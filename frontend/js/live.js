// The live session's websocket (remix/live/protocol.py): JSON messages answered by an ack or a typed error,
// and binary frames with a 16-byte header (magic "RX", version, kind, sequence, timestamp ms) then the
// payload — a JPEG/WebP image or a WAV audio chunk mixed on the server.
import { ApiError } from "./errors.js";

const HEADER_BYTES = 16;
const FRAME_VERSION = 1;
export const FRAME_KINDS = { 1: "image/jpeg", 2: "image/webp", 3: "audio/mpeg", 4: "audio/ogg", 5: "audio/wav" };
// Application close codes the server uses: retrying as-is cannot help.
const FINAL_CLOSE_CODES = new Set([4403, 4404]);

/** Split a binary frame into its header fields and payload; null when it is not a Remix frame. */
export function unpackFrame(buffer) {
  if (buffer.byteLength < HEADER_BYTES) return null;
  const view = new DataView(buffer);
  if (view.getUint8(0) !== 0x52 || view.getUint8(1) !== 0x58 || view.getUint8(2) !== FRAME_VERSION) return null;
  const kind = view.getUint8(3);
  return {
    kind,
    mediaType: FRAME_KINDS[kind] || "application/octet-stream",
    sequence: view.getUint32(4),
    timestampMs: Number(view.getBigUint64(8)),
    payload: buffer.slice(HEADER_BYTES),
  };
}

/**
 * One live session. `handlers`: state(msg), image(frame), audio(frame), error(ApiError) for errors the server
 * sends on its own (a revoked grant), notice(msg), closed({code, final}). `send(type, fields)` resolves with
 * the ack or rejects with an ApiError carrying the server's typed error.
 */
export class LiveConnection {
  constructor(trackId, handlers) {
    this.trackId = trackId;
    this.handlers = handlers;
    this.sessionId = null;
    this.pending = new Map();
    this.counter = 0;
    this.socket = null;
    this.closedByUs = false;
  }

  /** Open (or re-open, resuming the same session) the socket; resolves once the first `state` arrives. */
  open() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const resume = this.sessionId ? `?session=${encodeURIComponent(this.sessionId)}` : "";
    // The HttpOnly session cookie goes along with the upgrade request: same origin, no token in script.
    const socket = new WebSocket(`${scheme}://${window.location.host}/api/tracks/${this.trackId}/live${resume}`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.closedByUs = false;
    return new Promise((resolve, reject) => {
      let started = false;
      socket.addEventListener("message", (event) => {
        if (typeof event.data !== "string") {
          const frame = unpackFrame(event.data);
          if (!frame) return;
          (frame.mediaType.startsWith("image/") ? this.handlers.image : this.handlers.audio)?.(frame);
          return;
        }
        const message = JSON.parse(event.data);
        if (message.type === "state") {
          this.sessionId = message.session_id;
          this.handlers.state?.(message);
          if (!started) {
            started = true;
            resolve(message);
          }
        } else if (message.type === "ack" || (message.type === "error" && message.id)) {
          const waiter = this.pending.get(message.id);
          if (!waiter) return;
          this.pending.delete(message.id);
          if (message.type === "ack") waiter.resolve(message);
          else waiter.reject(new ApiError(message.error, message.detail, 0));
        } else if (message.type === "error") {
          const error = new ApiError(message.error, message.detail, 0);
          if (!started) reject(error);
          else this.handlers.error?.(error);
        } else if (message.type === "notice") {
          this.handlers.notice?.(message);
        }
      });
      socket.addEventListener("close", (event) => {
        for (const waiter of this.pending.values()) waiter.reject(new ApiError("Disconnected", "the live session closed", 0));
        this.pending.clear();
        // Before the first state the caller hears of it through the rejected promise, not twice.
        if (!started) reject(new ApiError("NetworkError", "could not open the live session", 0));
        else if (!this.closedByUs) this.handlers.closed?.({ code: event.code, final: FINAL_CLOSE_CODES.has(event.code) });
      });
    });
  }

  /** Send one message; resolves with its ack, rejects with the server's typed error. */
  send(type, fields = {}) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ApiError("Disconnected", "the live session is not connected", 0));
    }
    this.counter += 1;
    const id = `${type}-${this.counter}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ type, id, ...fields }));
    });
  }

  close() {
    this.closedByUs = true;
    this.socket?.close(1000);
  }
}

/**
 * Plays the server's WAV chunks back to back through Web Audio. Each chunk is scheduled right after the
 * previous one; when the queue runs dry (network or server late) playback restarts a little ahead.
 */
export class ChunkPlayer {
  constructor() {
    this.context = null;
    this.nextTime = 0;
    this.sources = new Set();
    this.chunksPlayed = 0;
  }

  /** Create or wake the AudioContext; call from a click, the only time browsers allow sound to start. */
  async start() {
    this.context ??= new AudioContext();
    if (this.context.state === "suspended") await this.context.resume();
  }

  async play(frame) {
    if (!this.context) return;
    let buffer;
    try {
      buffer = await this.context.decodeAudioData(frame.payload);
    } catch {
      return;  // a damaged chunk is skipped, not fatal: the next one follows 150 ms later
    }
    const now = this.context.currentTime;
    if (this.nextTime < now + 0.02) this.nextTime = now + 0.08;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    source.addEventListener("ended", () => this.sources.delete(source));
    source.start(this.nextTime);
    this.sources.add(source);
    this.nextTime += buffer.duration;
    this.chunksPlayed += 1;
  }

  /** Silence what is queued (pause, seek, a revoked grant). */
  stop() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // already ended
      }
    }
    this.sources.clear();
    this.nextTime = 0;
  }
}
