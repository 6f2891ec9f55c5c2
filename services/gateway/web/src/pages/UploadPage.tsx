import { type DragEvent, useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import type { ApiErrorInfo } from "../api";
import { CulpritList } from "../components/CulpritList";
import { ErrorMessage } from "../components/ErrorMessage";
import { describeError } from "../errors";
import { formatDateTime, formatOffset } from "../format";
import { t } from "../i18n";
import { uploadReset } from "../slices/uploads";
import { useAppDispatch, useAppSelector } from "../store";
import type { JobReport } from "../types";
import { startUpload, watchJob } from "../upload/uploadThunks";

function uploadErrorText(error: ApiErrorInfo): string {
  const message = error.message;
  if (error.status === 413) return t("upload.tooLarge", { message });
  if (error.status === 415) return t("upload.notVideo", { message });
  if (error.status === 400 || error.status === 422) return t("upload.rejected", { message });
  return t("upload.failed", { message: describeError(error) });
}

export function UploadPage() {
  const dispatch = useAppDispatch();
  const [params, setParams] = useSearchParams();
  const jobId = params.get("job");
  const upload = useAppSelector((state) => state.uploads);
  const cancelUpload = useRef<(() => void) | null>(null);
  const [dragging, setDragging] = useState(false);

  useEffect(() => () => cancelUpload.current?.(), []);

  useEffect(() => {
    if (!jobId) return;
    return dispatch(watchJob(jobId));
  }, [jobId, dispatch]);

  const send = (file: File | undefined) => {
    if (!file) return;
    cancelUpload.current?.();
    cancelUpload.current = dispatch(startUpload(file, (id) => setParams({ job: id })));
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    send(event.dataTransfer.files[0]);
  };

  const reset = () => {
    cancelUpload.current?.();
    cancelUpload.current = null;
    dispatch(uploadReset());
    setParams({});
  };

  const name = upload.fileName ?? "";
  let errorText: string | null = null;
  if (upload.phase === "failed") {
    if (upload.job?.status === "failed") errorText = t("upload.jobFailed", { message: upload.job.error ?? "" });
    else if (upload.error) errorText = uploadErrorText(upload.error);
  } else if (upload.error) {
    errorText = describeError(upload.error); // a passing hiccup while polling; it goes on
  }

  return (
    <main>
      <h1>{t("upload.title")}</h1>
      {upload.phase === "idle" && !jobId ? (
        <div
          className={`dropzone${dragging ? " dragging" : ""}`}
          data-testid="upload-dropzone"
          onDragOver={(event) => {
            event.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <p>{t("upload.drop")}</p>
          <label htmlFor="upload-file" className="button-like">
            {t("upload.choose")}
          </label>
          <input
            id="upload-file"
            className="file-input"
            type="file"
            accept="video/*"
            data-testid="upload-input"
            onChange={(event) => send(event.target.files?.[0])}
          />
        </div>
      ) : (
        <section className="upload-status" data-testid="upload-status" data-phase={upload.phase}>
          {upload.phase === "uploading" && (
            <div className="field">
              <label htmlFor="upload-progress">{t("upload.uploading", { name })}</label>
              <progress id="upload-progress" data-testid="upload-progress" max={1} value={upload.uploadProgress}>
                {Math.round(upload.uploadProgress * 100)}%
              </progress>
            </div>
          )}
          {upload.phase === "processing" && (
            <div className="field">
              <label htmlFor="job-progress">{t("upload.processing", { name })}</label>
              <progress id="job-progress" data-testid="job-progress" max={1} value={upload.job?.progress ?? 0}>
                {Math.round((upload.job?.progress ?? 0) * 100)}%
              </progress>
            </div>
          )}
          <ErrorMessage message={errorText} testId="upload-error" />
          {upload.phase === "done" && upload.job?.report && <Report report={upload.job.report} />}
          <button type="button" onClick={reset} data-testid="upload-another">
            {t("upload.another")}
          </button>
        </section>
      )}
    </main>
  );
}

function Report({ report }: { report: JobReport }) {
  return (
    <section className="report" data-testid="upload-report" data-violent={report.violent}>
      <h2>{t("upload.reportTitle")}</h2>
      <p className={report.violent ? "verdict violent" : "verdict calm"} data-testid="report-verdict">
        {t(report.violent ? "upload.violent" : "upload.notViolent")}
      </p>
      <h3>{t("upload.resultVideo")}</h3>
      <video className="player" controls preload="metadata" src={report.annotated_url} data-testid="report-video" />
      {report.events.length > 0 && (
        <>
          <h3>{t("upload.events")}</h3>
          <ol className="report-events">
            {report.events.map((event) => (
              <li key={event.id} data-testid="report-event">
                <p>
                  <Link to={`/repository/${encodeURIComponent(event.id)}`} data-testid="report-event-link">
                    {formatDateTime(event.started_at)}
                  </Link>
                  {event.start_offset_s !== null && (
                    <span className="muted" data-testid="report-event-offsets">
                      {" "}
                      {t("upload.inVideo", {
                        from: formatOffset(event.start_offset_s),
                        to: event.end_offset_s === null ? "…" : formatOffset(event.end_offset_s),
                      })}
                    </span>
                  )}
                </p>
                <CulpritList culprits={event.culprits} />
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
