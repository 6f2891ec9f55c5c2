import { afterEach, describe, expect, it, vi } from "vitest";
import { makeStore } from "../store";
import type { Camera } from "../types";
import { createCamera, deleteCamera, fetchCameras, startCamera, stopCamera } from "./cameras";
import { stubApi } from "./testing";

const cam = (id: string, status: Camera["status"] = "idle"): Camera => ({
  id,
  name: `Camera ${id}`,
  source: `rtsp://10.0.0.${id}/stream`,
  status,
  error_reason: null,
});

afterEach(() => vi.unstubAllGlobals());

describe("cameras slice", () => {
  it("loads, adds, starts, stops and deletes", async () => {
    stubApi({
      "GET /api/cameras": { status: 200, body: [cam("1")] },
      "POST /api/cameras": { status: 201, body: cam("2") },
      "POST /api/cameras/2/start": { status: 200, body: cam("2", "live") },
      "POST /api/cameras/1/stop": { status: 200, body: cam("1", "idle") },
      "DELETE /api/cameras/1": { status: 204 },
    });
    const store = makeStore();
    const ids = () => store.getState().cameras.items.map((c) => `${c.id}:${c.status}`);
    await store.dispatch(fetchCameras());
    await store.dispatch(createCamera({ name: "Camera 2", source: "rtsp://10.0.0.2/stream" }));
    expect(ids()).toEqual(["1:idle", "2:idle"]);
    await store.dispatch(startCamera("2"));
    await store.dispatch(stopCamera("1"));
    expect(ids()).toEqual(["1:idle", "2:live"]);
    await store.dispatch(deleteCamera("1"));
    expect(ids()).toEqual(["2:live"]);
    expect(store.getState().cameras.busyIds).toEqual([]);
  });

  it("a camera is busy while its action runs", async () => {
    let answer: (r: Response) => void = () => {};
    vi.stubGlobal("fetch", vi.fn(() => new Promise<Response>((resolve) => (answer = resolve))));
    const store = makeStore();
    const running = store.dispatch(startCamera("7"));
    expect(store.getState().cameras.busyIds).toEqual(["7"]);
    answer(new Response(JSON.stringify(cam("7", "live")), { status: 200 }));
    await running;
    expect(store.getState().cameras.busyIds).toEqual([]);
  });

  it.each([
    { name: "duplicate name", status: 409, detail: "camera name already used" },
    { name: "viewer", status: 403, detail: "admin role required" },
  ])("a refused add keeps the reason: $name", async ({ status, detail }) => {
    stubApi({ "POST /api/cameras": { status, body: { detail } } });
    const store = makeStore();
    await store.dispatch(createCamera({ name: "x", source: "y" }));
    expect(store.getState().cameras).toMatchObject({ creating: false, createError: { status, message: detail }, items: [] });
  });

  it("a failed start is an action error, apart from the list's", async () => {
    stubApi({ "POST /api/cameras/1/start": { status: 404, body: { detail: "camera not found" } } });
    const store = makeStore();
    await store.dispatch(startCamera("1"));
    expect(store.getState().cameras).toMatchObject({ error: null, actionError: { status: 404 }, busyIds: [] });
  });
});
