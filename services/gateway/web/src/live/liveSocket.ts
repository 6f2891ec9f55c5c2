// One camera's live WebSocket: parses messages, and reconnects with backoff unless the server
// said the camera or the session is gone.
import type { LiveFrameMessage, LiveMessage, LiveStatusMessage } from "../types";

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_NOT_FOUND = 4404;
const FINAL_CLOSE_CODES = new Set([1000, CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND]);

export type ConnectionState = "connecting" | "open" | "retrying" | "closed";

export interface LiveFeedHandlers {
  onFrame(message: LiveFrameMessage): void;
  onStatus(message: LiveStatusMessage): void;
  onConnection(state: ConnectionState, closeCode?: number): void;
}

/** The part of WebSocket used here, so tests can hand in a fake. */
export interface SocketLike {
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
  close(code?: number): void;
}

export function retryDelayMs(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** attempt);
}

export function parseLiveMessage(data: unknown): LiveMessage | null {
  if (typeof data !== "string") return null;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  const type = (message as { type?: unknown } | null)?.type;
  return type === "frame" || type === "status" ? (message as LiveMessage) : null;
}

/** Opens the feed and returns the function that closes it for good. */
export function openLiveFeed(
  url: string,
  handlers: LiveFeedHandlers,
  makeSocket: (url: string) => SocketLike = (u) => new WebSocket(u) as unknown as SocketLike,
  schedule: (run: () => void, ms: number) => () => void = (run, ms) => {
    const timer = setTimeout(run, ms);
    return () => clearTimeout(timer);
  },
): () => void {
  let stopped = false;
  let attempt = 0;
  let socket: SocketLike | null = null;
  let cancelRetry: (() => void) | null = null;

  const connect = () => {
    handlers.onConnection("connecting");
    socket = makeSocket(url);
    socket.onopen = () => {
      attempt = 0;
      handlers.onConnection("open");
    };
    socket.onmessage = (event) => {
      const message = parseLiveMessage(event.data);
      if (message?.type === "frame") handlers.onFrame(message);
      else if (message?.type === "status") handlers.onStatus(message);
    };
    socket.onclose = (event) => {
      socket = null;
      if (stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        handlers.onConnection("closed", event.code);
        return;
      }
      handlers.onConnection("retrying", event.code);
      cancelRetry = schedule(connect, retryDelayMs(attempt++));
    };
  };

  connect();
  return () => {
    stopped = true;
    cancelRetry?.();
    if (socket) {
      socket.onmessage = null;
      socket.close(1000);
    }
  };
}
