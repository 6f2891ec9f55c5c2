import { describe, expect, it } from "vitest";
import type { OverlayBox } from "../types";
import reducer, {
  type FrameSummary,
  cameraSelected,
  clockTicked,
  connectionChanged,
  frameReceived,
  initialLiveState,
  statusReceived,
} from "./live";

const box = (track_id: number, violent: boolean): OverlayBox => ({ track_id, box: [0, 0, 10, 10], violent, score: 0.5 });
const frame = (frame_index: number, receivedAt: number, overlay: OverlayBox[] = []): FrameSummary => ({
  frame_index,
  captured_at: "2024-05-01T12:00:00Z",
  overlay,
  receivedAt,
});

describe("live slice", () => {
  it("raises the alert only while a violent person is on the latest frame", () => {
    let state = reducer(initialLiveState, cameraSelected("cam-1"));
    state = reducer(state, frameReceived(frame(1, 0, [box(1, false), box(2, true)])));
    expect(state.violentOnScreen).toBe(true);
    state = reducer(state, frameReceived(frame(2, 100, [box(1, false)])));
    expect(state.violentOnScreen).toBe(false);
    expect(state.overlay).toEqual([box(1, false)]);
    expect(state.frameIndex).toBe(2);
  });

  it("counts frames per second over recent arrivals", () => {
    let state = reducer(initialLiveState, cameraSelected("cam-1"));
    for (let i = 0; i < 11; i++) state = reducer(state, frameReceived(frame(i, 1000 + i * 100)));
    expect(state.fps).toBeCloseTo(10);
    state = reducer(state, clockTicked(1000 + 10 * 100 + 5000));
    expect(state.fps).toBe(0);
  });

  it("a camera that stops sending clears the boxes and the alert", () => {
    let state = reducer(initialLiveState, frameReceived(frame(1, 0, [box(2, true)])));
    state = reducer(state, statusReceived({ status: "reconnecting", error_reason: "stream timed out" }));
    expect(state).toMatchObject({
      cameraStatus: "reconnecting",
      errorReason: "stream timed out",
      violentOnScreen: false,
      overlay: [],
      fps: 0,
    });
  });

  it("a frame means the camera is live", () => {
    let state = reducer(initialLiveState, statusReceived({ status: "error", error_reason: "no such file" }));
    state = reducer(state, frameReceived(frame(1, 0)));
    expect(state).toMatchObject({ cameraStatus: "live", errorReason: null });
  });

  it("choosing another camera forgets the previous one", () => {
    let state = reducer(initialLiveState, cameraSelected("cam-1"));
    state = reducer(state, connectionChanged({ state: "open" }));
    state = reducer(state, frameReceived(frame(9, 0, [box(2, true)])));
    state = reducer(state, cameraSelected("cam-2"));
    expect(state).toEqual({ ...initialLiveState, cameraId: "cam-2" });
  });

  it("keeps the close code of a closed connection", () => {
    const state = reducer(initialLiveState, connectionChanged({ state: "closed", closeCode: 4404 }));
    expect(state).toMatchObject({ connection: "closed", closeCode: 4404 });
  });
});
