import { describe, expect, it } from "vitest";
import type { LiveFrameMessage } from "../types";
import { type ConnectionState, type SocketLike, openLiveFeed, parseLiveMessage, retryDelayMs } from "./liveSocket";
import { liveSocketUrl } from "./socketUrl";

class FakeSocket implements SocketLike {
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  closedWith: number | null = null;
  constructor(readonly url: string) {}
  close(code?: number) {
    this.closedWith = code ?? 1005;
  }
}

const frame: LiveFrameMessage = {
  type: "frame",
  camera_id: "cam-1",
  frame_index: 3,
  captured_at: "2024-05-01T12:00:00Z",
  width: 640,
  height: 360,
  jpeg_b64: "",
  overlay: [{ track_id: 1, box: [1, 2, 3, 4], violent: true, score: 0.9 }],
};

function harness() {
  const sockets: FakeSocket[] = [];
  const scheduled: { run: () => void; ms: number; cancelled: boolean }[] = [];
  const frames: LiveFrameMessage[] = [];
  const states: [ConnectionState, number | undefined][] = [];
  const statuses: string[] = [];
  const close = openLiveFeed(
    "ws://host/api/live/cam-1",
    {
      onFrame: (m) => frames.push(m),
      onStatus: (m) => statuses.push(m.status),
      onConnection: (state, code) => states.push([state, code]),
    },
    (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    (run, ms) => {
      const entry = { run, ms, cancelled: false };
      scheduled.push(entry);
      return () => {
        entry.cancelled = true;
      };
    },
  );
  return { sockets, scheduled, frames, states, statuses, close };
}

describe("liveSocketUrl", () => {
  it.each([
    ["http:", "localhost:8000", "cam 1", "ws://localhost:8000/api/live/cam%201"],
    ["https:", "vigil.example", "c/2", "wss://vigil.example/api/live/c%2F2"],
  ])("%s //%s for %s", (protocol, host, id, expected) => {
    expect(liveSocketUrl({ protocol, host }, id)).toBe(expected);
  });
});

describe("parseLiveMessage", () => {
  it.each([
    { name: "frame", data: JSON.stringify(frame), type: "frame" },
    { name: "status", data: '{"type":"status","status":"live","error_reason":null}', type: "status" },
    { name: "unknown type", data: '{"type":"other"}', type: null },
    { name: "not JSON", data: "{nope", type: null },
    { name: "binary", data: new ArrayBuffer(2), type: null },
  ])("$name", ({ data, type }) => {
    expect(parseLiveMessage(data)?.type ?? null).toBe(type);
  });
});

describe("openLiveFeed", () => {
  it("hands frames and statuses to their handlers", () => {
    const h = harness();
    h.sockets[0].onopen?.();
    h.sockets[0].onmessage?.({ data: JSON.stringify(frame) });
    h.sockets[0].onmessage?.({ data: '{"type":"status","status":"reconnecting","error_reason":"timeout"}' });
    expect(h.frames.map((f) => f.frame_index)).toEqual([3]);
    expect(h.statuses).toEqual(["reconnecting"]);
    expect(h.states).toEqual([["connecting", undefined], ["open", undefined]]);
  });

  it("reconnects with growing delays after an abnormal close", () => {
    const h = harness();
    h.sockets[0].onclose?.({ code: 1006 });
    expect(h.states.at(-1)).toEqual(["retrying", 1006]);
    expect(h.scheduled.map((s) => s.ms)).toEqual([retryDelayMs(0)]);
    h.scheduled[0].run();
    h.sockets[1].onclose?.({ code: 1011 });
    expect(h.scheduled.map((s) => s.ms)).toEqual([retryDelayMs(0), retryDelayMs(1)]);
    expect(retryDelayMs(1)).toBeGreaterThan(retryDelayMs(0));
    expect(h.sockets).toHaveLength(2);
  });

  it.each([4401, 4403, 4404, 1000])("does not reconnect after close code %i", (code) => {
    const h = harness();
    h.sockets[0].onclose?.({ code });
    expect(h.states.at(-1)).toEqual(["closed", code]);
    expect(h.scheduled).toHaveLength(0);
  });

  it("closes for good: the socket closes normally and no retry runs", () => {
    const h = harness();
    h.sockets[0].onclose?.({ code: 1006 });
    h.scheduled[0].run();
    h.close();
    expect(h.sockets[1].closedWith).toBe(1000);
    h.sockets[1].onclose?.({ code: 1000 });
    expect(h.scheduled).toHaveLength(1);
  });

  it("cancels a pending retry when closed", () => {
    const h = harness();
    h.sockets[0].onclose?.({ code: 1006 });
    h.close();
    expect(h.scheduled[0].cancelled).toBe(true);
  });
});

describe("retryDelayMs", () => {
  it("stops growing at 10 s", () => {
    expect(retryDelayMs(20)).toBe(10_000);
  });
});
