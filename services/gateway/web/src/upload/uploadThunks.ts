// The upload's two steps as thunks that hand back a way to stop them: sending the file with
// progress, then asking for the job until it is done or failed.
import { api, toErrorInfo } from "../api";
import { isLastingError, jobPollFailed, jobUpdated, jobWatched, uploadFailed, uploadProgressed, uploadStarted } from "../slices/uploads";
import type { AppThunk } from "../store";
import { uploadWithProgress } from "./uploadWithProgress";

export const POLL_INTERVAL_MS = 1000;

/** Sends the file; on 202 the job is watched by the page (it puts the job id in its address). */
export const startUpload =
  (file: File, onAccepted: (jobId: string) => void): AppThunk<() => void> =>
  (dispatch) => {
    dispatch(uploadStarted(file.name));
    const handle = uploadWithProgress(file, (fraction) => dispatch(uploadProgressed(fraction)));
    let cancelled = false;
    handle.done.then(
      ({ job_id }) => {
        if (cancelled) return;
        dispatch(jobWatched(job_id));
        onAccepted(job_id);
      },
      (error: unknown) => {
        if (!cancelled) dispatch(uploadFailed(toErrorInfo(error)));
      },
    );
    return () => {
      cancelled = true;
      handle.abort();
    };
  };

export const watchJob =
  (jobId: string, intervalMs = POLL_INTERVAL_MS): AppThunk<() => void> =>
  (dispatch) => {
    dispatch(jobWatched(jobId));
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const job = await api.getJob(jobId, controller.signal);
        if (controller.signal.aborted) return;
        dispatch(jobUpdated(job));
        if (job.status === "done" || job.status === "failed") return;
      } catch (error) {
        if (controller.signal.aborted) return;
        const info = toErrorInfo(error);
        dispatch(jobPollFailed(info));
        if (isLastingError(info)) return;
      }
      timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  };
