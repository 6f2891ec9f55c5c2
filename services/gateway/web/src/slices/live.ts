import { type PayloadAction, createSlice } from "@reduxjs/toolkit";
import { framesPerSecond, recentArrivals } from "../live/fps";
import type { ConnectionState } from "../live/liveSocket";
import type { CameraStatus, LiveStatusMessage, OverlayBox } from "../types";

/** A frame as the store keeps it: the JPEG itself goes straight to the canvas, not here. */
export interface FrameSummary {
  frame_index: number;
  captured_at: string;
  overlay: OverlayBox[];
  receivedAt: number; // ms, the viewer's clock
}

export interface LiveState {
  cameraId: string | null;
  connection: ConnectionState | "idle";
  closeCode: number | null;
  cameraStatus: CameraStatus | null;
  errorReason: string | null;
  arrivals: number[];
  fps: number;
  frameIndex: number | null;
  capturedAt: string | null;
  overlay: OverlayBox[];
  violentOnScreen: boolean;
}

export const initialLiveState: LiveState = {
  cameraId: null,
  connection: "idle",
  closeCode: null,
  cameraStatus: null,
  errorReason: null,
  arrivals: [],
  fps: 0,
  frameIndex: null,
  capturedAt: null,
  overlay: [],
  violentOnScreen: false,
};

const liveSlice = createSlice({
  name: "live",
  initialState: initialLiveState,
  reducers: {
    /** A new camera (or none) on screen: nothing of the previous one stays. */
    cameraSelected(_state, action: PayloadAction<string | null>) {
      return { ...initialLiveState, cameraId: action.payload };
    },
    connectionChanged(state, action: PayloadAction<{ state: ConnectionState; closeCode?: number }>) {
      state.connection = action.payload.state;
      state.closeCode = action.payload.closeCode ?? null;
    },
    statusReceived(state, action: PayloadAction<Omit<LiveStatusMessage, "type">>) {
      state.cameraStatus = action.payload.status;
      state.errorReason = action.payload.error_reason;
      if (action.payload.status !== "live") {
        // No frames are coming: an old frame's boxes must not keep the alert up.
        state.overlay = [];
        state.violentOnScreen = false;
        state.arrivals = [];
        state.fps = 0;
      }
    },
    frameReceived(state, action: PayloadAction<FrameSummary>) {
      const frame = action.payload;
      state.arrivals = recentArrivals([...state.arrivals, frame.receivedAt], frame.receivedAt);
      state.fps = framesPerSecond(state.arrivals);
      state.frameIndex = frame.frame_index;
      state.capturedAt = frame.captured_at;
      state.overlay = frame.overlay;
      state.violentOnScreen = frame.overlay.some((item) => item.violent);
      state.cameraStatus = "live";
      state.errorReason = null;
    },
    /** Once a second, so a stalled stream's rate falls to 0 instead of freezing. */
    clockTicked(state, action: PayloadAction<number>) {
      state.arrivals = recentArrivals(state.arrivals, action.payload);
      state.fps = framesPerSecond(state.arrivals);
    },
  },
});

export const { cameraSelected, connectionChanged, statusReceived, frameReceived, clockTicked } =
  liveSlice.actions;
export default liveSlice.reducer;
