import { createSlice } from "@reduxjs/toolkit";
import { type ApiErrorInfo, api, toErrorInfo } from "../api";
import type { Camera } from "../types";
import { apiThunk } from "./apiThunk";

export interface CamerasState {
  items: Camera[];
  loading: boolean;
  error: ApiErrorInfo | null; // loading the list
  actionError: ApiErrorInfo | null; // starting, stopping or deleting a camera
  createError: ApiErrorInfo | null;
  creating: boolean;
  busyIds: string[]; // cameras with a start, stop or delete in flight
}

export const initialCamerasState: CamerasState = {
  items: [],
  loading: false,
  error: null,
  actionError: null,
  createError: null,
  creating: false,
  busyIds: [],
};

export const fetchCameras = apiThunk("cameras/fetch", () => api.listCameras());
export const createCamera = apiThunk("cameras/create", (input: { name: string; source: string }) =>
  api.createCamera(input.name, input.source),
);
export const startCamera = apiThunk("cameras/start", (id: string) => api.startCamera(id));
export const stopCamera = apiThunk("cameras/stop", (id: string) => api.stopCamera(id));
export const deleteCamera = apiThunk("cameras/delete", async (id: string) => {
  await api.deleteCamera(id);
  return id;
});

function upsert(items: Camera[], camera: Camera): void {
  const index = items.findIndex((c) => c.id === camera.id);
  if (index >= 0) items[index] = camera;
  else items.push(camera);
}

const camerasSlice = createSlice({
  name: "cameras",
  initialState: initialCamerasState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(fetchCameras.pending, (state) => {
        state.loading = true;
        state.error = null;
      })
      .addCase(fetchCameras.fulfilled, (state, action) => {
        state.loading = false;
        state.items = action.payload;
      })
      .addCase(fetchCameras.rejected, (state, action) => {
        state.loading = false;
        state.error = action.payload ?? toErrorInfo(action.error);
      })
      .addCase(createCamera.pending, (state) => {
        state.creating = true;
        state.createError = null;
      })
      .addCase(createCamera.fulfilled, (state, action) => {
        state.creating = false;
        upsert(state.items, action.payload);
      })
      .addCase(createCamera.rejected, (state, action) => {
        state.creating = false;
        state.createError = action.payload ?? toErrorInfo(action.error);
      });
    for (const thunk of [startCamera, stopCamera, deleteCamera]) {
      builder
        .addCase(thunk.pending, (state, action) => {
          state.actionError = null;
          state.busyIds.push(action.meta.arg);
        })
        .addCase(thunk.rejected, (state, action) => {
          state.busyIds = state.busyIds.filter((id) => id !== action.meta.arg);
          state.actionError = action.payload ?? toErrorInfo(action.error);
        });
    }
    builder
      .addCase(startCamera.fulfilled, (state, action) => {
        state.busyIds = state.busyIds.filter((id) => id !== action.meta.arg);
        upsert(state.items, action.payload);
      })
      .addCase(stopCamera.fulfilled, (state, action) => {
        state.busyIds = state.busyIds.filter((id) => id !== action.meta.arg);
        upsert(state.items, action.payload);
      })
      .addCase(deleteCamera.fulfilled, (state, action) => {
        state.busyIds = state.busyIds.filter((id) => id !== action.meta.arg);
        state.items = state.items.filter((c) => c.id !== action.payload);
      });
  },
});

export default camerasSlice.reducer;
