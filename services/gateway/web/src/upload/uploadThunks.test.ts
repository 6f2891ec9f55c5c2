import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stubApi } from "../slices/testing";
import { makeStore } from "../store";
import type { Job } from "../types";
import { watchJob } from "./uploadThunks";

const job = (status: Job["status"], progress: number): Job => ({
  id: "job-1",
  filename: "fight.mp4",
  status,
  progress,
  error: status === "failed" ? "unreadable video" : null,
  created_at: "2024-05-01T12:00:00Z",
  report: status === "done" ? { violent: false, events: [], annotated_url: "/api/jobs/job-1/annotated" } : null,
});

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("watchJob", () => {
  it("asks until the job is done, then stops", async () => {
    const calls = stubApi({
      "GET /api/jobs/job-1": [
        { status: 200, body: job("queued", 0) },
        { status: 503, body: { detail: "repository unavailable" } },
        { status: 200, body: job("running", 0.5) },
        { status: 200, body: job("done", 1) },
      ],
    });
    const store = makeStore();
    store.dispatch(watchJob("job-1", 1000));
    await vi.advanceTimersByTimeAsync(0);
    expect(store.getState().uploads.phase).toBe("processing");
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.getState().uploads).toMatchObject({ phase: "processing", error: { status: 503 } });
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.getState().uploads.job?.progress).toBe(0.5);
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.getState().uploads.phase).toBe("done");
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(4);
  });

  it("stops on a 404", async () => {
    const calls = stubApi({ "GET /api/jobs/job-1": { status: 404, body: { detail: "job not found" } } });
    const store = makeStore();
    store.dispatch(watchJob("job-1", 1000));
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(1);
    expect(store.getState().uploads).toMatchObject({ phase: "failed", error: { status: 404 } });
  });

  it("stops when told to", async () => {
    const calls = stubApi({ "GET /api/jobs/job-1": { status: 200, body: job("running", 0.1) } });
    const store = makeStore();
    const stop = store.dispatch(watchJob("job-1", 1000));
    await vi.advanceTimersByTimeAsync(1500);
    stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(2);
  });
});
