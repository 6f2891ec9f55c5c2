import { afterEach, describe, expect, it, vi } from "vitest";
import { makeStore } from "../store";
import type { Page, VigilEvent } from "../types";
import reducer, { deleteEvent, fetchEvent, fetchEvents, initialEventsState } from "./events";
import { stubApi } from "./testing";

const event = (id: string): VigilEvent => ({
  id,
  camera_id: "cam-1",
  source_kind: "camera",
  job_id: null,
  started_at: "2024-05-01T12:00:00Z",
  ended_at: "2024-05-01T12:00:09Z",
  start_frame: 120,
  start_offset_s: null,
  end_offset_s: null,
  scores: { peak: 0.93, mean: 0.8 },
  culprits: [],
  clip_url: `/api/events/${id}/clip`,
  poster_url: `/api/events/${id}/poster`,
  status: "ready",
});
const page = (ids: string[], total = ids.length): Page<VigilEvent> => ({ items: ids.map(event), total, page: 1, page_size: 20 });

afterEach(() => vi.unstubAllGlobals());

describe("events slice", () => {
  it("lists with the query in the address", async () => {
    const calls = stubApi({ "GET /api/events": { status: 200, body: page(["a", "b"], 42) } });
    const store = makeStore();
    await store.dispatch(fetchEvents({ date: "2024-05-01", tz: "UTC", page: 1, page_size: 20 }));
    expect(calls[0].url).toBe("/api/events?date=2024-05-01&tz=UTC&page=1&page_size=20");
    expect(store.getState().events).toMatchObject({ listLoading: false, list: { total: 42 } });
  });

  it("keeps only the newest search's answer", () => {
    const older = { requestId: "1", arg: {}, requestStatus: "fulfilled" as const };
    let state = reducer(initialEventsState, fetchEvents.pending("1", {}));
    state = reducer(state, fetchEvents.pending("2", {}));
    state = reducer(state, { type: fetchEvents.fulfilled.type, payload: page(["old"]), meta: older });
    expect(state.list).toBeNull();
    expect(state.listLoading).toBe(true);
    state = reducer(state, fetchEvents.fulfilled(page(["new"]), "2", {}));
    expect(state.list?.items.map((e) => e.id)).toEqual(["new"]);
  });

  it("delete removes the event from the list and the detail", () => {
    let state = reducer(initialEventsState, fetchEvents.pending("r", {}));
    state = reducer(state, fetchEvents.fulfilled(page(["a", "b", "c"], 30), "r", {}));
    state = reducer(state, fetchEvent.fulfilled(event("b"), "r2", "b"));
    state = reducer(state, deleteEvent.fulfilled("b", "r3", "b"));
    expect(state.list?.items.map((e) => e.id)).toEqual(["a", "c"]);
    expect(state.list?.total).toBe(29);
    expect(state.detail).toBeNull();
  });

  it("a refused delete keeps the event and says why", async () => {
    stubApi({ "DELETE /api/events/a": { status: 403, body: { detail: "admin role required" } } });
    const store = makeStore();
    await store.dispatch(deleteEvent("a"));
    expect(store.getState().events).toMatchObject({ deleting: false, deleteError: { status: 403 } });
  });

  it("opening another event drops the one shown", () => {
    let state = reducer(initialEventsState, fetchEvent.fulfilled(event("a"), "r", "a"));
    state = reducer(state, fetchEvent.pending("r2", "b"));
    expect(state.detail).toBeNull();
    state = reducer(state, fetchEvent.rejected(null, "r2", "b", { status: 404, message: "event not found", fieldErrors: {} }));
    expect(state.detailError).toMatchObject({ status: 404 });
  });
});
