import { createSlice } from "@reduxjs/toolkit";
import { type ApiErrorInfo, type EventQuery, api, toErrorInfo } from "../api";
import type { Page, VigilEvent } from "../types";
import { apiThunk } from "./apiThunk";

export interface EventsState {
  list: Page<VigilEvent> | null;
  listLoading: boolean;
  listError: ApiErrorInfo | null;
  listRequestId: string | null;
  detail: VigilEvent | null;
  detailLoading: boolean;
  detailError: ApiErrorInfo | null;
  deleting: boolean;
  deleteError: ApiErrorInfo | null;
}

export const initialEventsState: EventsState = {
  list: null,
  listLoading: false,
  listError: null,
  listRequestId: null,
  detail: null,
  detailLoading: false,
  detailError: null,
  deleting: false,
  deleteError: null,
};

export const fetchEvents = apiThunk("events/fetchList", (query: EventQuery, signal) =>
  api.listEvents(query, signal),
);
export const fetchEvent = apiThunk("events/fetchOne", (id: string) => api.getEvent(id));
export const deleteEvent = apiThunk("events/delete", async (id: string) => {
  await api.deleteEvent(id);
  return id;
});

const eventsSlice = createSlice({
  name: "events",
  initialState: initialEventsState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(fetchEvents.pending, (state, action) => {
        state.listLoading = true;
        state.listError = null;
        state.listRequestId = action.meta.requestId;
      })
      .addCase(fetchEvents.fulfilled, (state, action) => {
        if (action.meta.requestId !== state.listRequestId) return; // a newer search is on its way
        state.listLoading = false;
        state.list = action.payload;
      })
      .addCase(fetchEvents.rejected, (state, action) => {
        if (action.meta.requestId !== state.listRequestId) return;
        state.listLoading = false;
        state.listError = action.payload ?? toErrorInfo(action.error);
      })
      .addCase(fetchEvent.pending, (state, action) => {
        state.detailLoading = true;
        state.detailError = null;
        if (state.detail?.id !== action.meta.arg) state.detail = null;
      })
      .addCase(fetchEvent.fulfilled, (state, action) => {
        state.detailLoading = false;
        state.detail = action.payload;
      })
      .addCase(fetchEvent.rejected, (state, action) => {
        state.detailLoading = false;
        state.detailError = action.payload ?? toErrorInfo(action.error);
      })
      .addCase(deleteEvent.pending, (state) => {
        state.deleting = true;
        state.deleteError = null;
      })
      .addCase(deleteEvent.fulfilled, (state, action) => {
        state.deleting = false;
        if (state.detail?.id === action.payload) state.detail = null;
        if (state.list) {
          const before = state.list.items.length;
          state.list.items = state.list.items.filter((e) => e.id !== action.payload);
          state.list.total = Math.max(0, state.list.total - (before - state.list.items.length));
        }
      })
      .addCase(deleteEvent.rejected, (state, action) => {
        state.deleting = false;
        state.deleteError = action.payload ?? toErrorInfo(action.error);
      });
  },
});

export default eventsSlice.reducer;
