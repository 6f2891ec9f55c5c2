import { describe, expect, it } from "vitest";
import type { Job } from "../types";
import reducer, {
  initialUploadsState,
  isLastingError,
  jobPollFailed,
  jobUpdated,
  jobWatched,
  uploadFailed,
  uploadProgressed,
  uploadReset,
  uploadStarted,
} from "./uploads";

const job = (status: Job["status"], extra: Partial<Job> = {}): Job => ({
  id: "job-1",
  filename: "fight.mp4",
  status,
  progress: status === "done" ? 1 : 0.4,
  error: null,
  created_at: "2024-05-01T12:00:00Z",
  report: null,
  ...extra,
});
const err = (status: number) => ({ status, message: "m", fieldErrors: {} });

describe("uploads slice", () => {
  it("goes uploading -> processing -> done", () => {
    let state = reducer(initialUploadsState, uploadStarted("fight.mp4"));
    expect(state).toMatchObject({ phase: "uploading", fileName: "fight.mp4", uploadProgress: 0 });
    state = reducer(state, uploadProgressed(0.5));
    state = reducer(state, uploadProgressed(0.3)); // a late event never moves the bar back
    expect(state.uploadProgress).toBe(0.5);
    state = reducer(state, jobWatched("job-1"));
    expect(state).toMatchObject({ phase: "processing", jobId: "job-1", uploadProgress: 1, fileName: "fight.mp4" });
    state = reducer(state, jobUpdated(job("running")));
    expect(state.phase).toBe("processing");
    const report = { violent: true, events: [], annotated_url: "/api/jobs/job-1/annotated" };
    state = reducer(state, jobUpdated(job("done", { report })));
    expect(state).toMatchObject({ phase: "done", job: { report } });
  });

  it("a failed job is a failed phase, its reason in the job", () => {
    let state = reducer(initialUploadsState, jobWatched("job-1"));
    state = reducer(state, jobUpdated(job("failed", { error: "truncated video" })));
    expect(state).toMatchObject({ phase: "failed", job: { error: "truncated video" }, error: null });
  });

  it("ignores answers about a job no longer shown", () => {
    let state = reducer(initialUploadsState, jobWatched("job-2"));
    state = reducer(state, jobUpdated(job("done")));
    expect(state).toMatchObject({ phase: "processing", job: null });
  });

  it.each([
    { status: 413, phase: "failed" },
    { status: 404, phase: "failed" },
    { status: 0, phase: "processing" },
    { status: 503, phase: "processing" },
  ])("a polling error $status leaves the phase $phase", ({ status, phase }) => {
    let state = reducer(initialUploadsState, jobWatched("job-1"));
    state = reducer(state, jobPollFailed(err(status)));
    expect(state.phase).toBe(phase);
    expect(isLastingError(err(status))).toBe(phase === "failed");
  });

  it("a refused upload is failed with the reason", () => {
    let state = reducer(initialUploadsState, uploadStarted("notes.txt"));
    state = reducer(state, uploadFailed(err(415)));
    expect(state).toMatchObject({ phase: "failed", error: err(415) });
  });

  it("reset forgets everything", () => {
    const state = reducer(reducer(initialUploadsState, jobWatched("job-1")), uploadReset());
    expect(state).toEqual(initialUploadsState);
  });
});
