import { type PayloadAction, createSlice } from "@reduxjs/toolkit";
import type { ApiErrorInfo } from "../api";
import type { Job } from "../types";

export type UploadPhase = "idle" | "uploading" | "processing" | "done" | "failed";

export interface UploadsState {
  phase: UploadPhase;
  fileName: string | null;
  uploadProgress: number; // 0..1, bytes sent
  jobId: string | null;
  job: Job | null;
  error: ApiErrorInfo | null;
}

export const initialUploadsState: UploadsState = {
  phase: "idle",
  fileName: null,
  uploadProgress: 0,
  jobId: null,
  job: null,
  error: null,
};

/** A 4xx while polling will not change by asking again; a network error or 5xx may. */
export function isLastingError(error: ApiErrorInfo): boolean {
  return error.status >= 400 && error.status < 500;
}

const uploadsSlice = createSlice({
  name: "uploads",
  initialState: initialUploadsState,
  reducers: {
    uploadStarted(_state, action: PayloadAction<string>) {
      return { ...initialUploadsState, phase: "uploading", fileName: action.payload };
    },
    uploadProgressed(state, action: PayloadAction<number>) {
      state.uploadProgress = Math.max(state.uploadProgress, Math.min(1, action.payload));
    },
    uploadFailed(state, action: PayloadAction<ApiErrorInfo>) {
      state.phase = "failed";
      state.error = action.payload;
    },
    /** The gateway took the file (202), or the page was opened on a job's address. */
    jobWatched(state, action: PayloadAction<string>) {
      if (state.jobId !== action.payload) {
        Object.assign(state, initialUploadsState, { fileName: state.fileName });
      }
      state.jobId = action.payload;
      state.uploadProgress = 1;
      if (state.phase !== "done") state.phase = "processing";
    },
    jobUpdated(state, action: PayloadAction<Job>) {
      if (action.payload.id !== state.jobId) return; // an answer about a job no longer shown
      const job = action.payload;
      state.job = job;
      state.fileName = job.filename;
      state.error = null;
      if (job.status === "done") state.phase = "done";
      else if (job.status === "failed") state.phase = "failed"; // the reason is job.error
      else state.phase = "processing";
    },
    jobPollFailed(state, action: PayloadAction<ApiErrorInfo>) {
      state.error = action.payload;
      if (isLastingError(action.payload)) state.phase = "failed";
    },
    uploadReset() {
      return initialUploadsState;
    },
  },
});

export const { uploadStarted, uploadProgressed, uploadFailed, jobWatched, jobUpdated, jobPollFailed, uploadReset } =
  uploadsSlice.actions;
export default uploadsSlice.reducer;
