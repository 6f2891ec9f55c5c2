import { type FormEvent, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorMessage } from "../components/ErrorMessage";
import { TextField } from "../components/TextField";
import { describeError, requiredFieldErrors, serverFieldErrors } from "../errors";
import { type MessageKey, t } from "../i18n";
import { createCamera, deleteCamera, fetchCameras, startCamera, stopCamera } from "../slices/cameras";
import { useAppDispatch, useAppSelector } from "../store";
import type { Camera } from "../types";

const CAMERA_REFRESH_MS = 5000;

export function CamerasPage() {
  const isAdmin = useAppSelector((state) => state.auth.user?.role === "admin");
  if (!isAdmin) {
    return (
      <main>
        <h1>{t("cameras.title")}</h1>
        <p data-testid="cameras-admin-only">{t("cameras.adminOnly")}</p>
      </main>
    );
  }
  return <CameraManager />;
}

function CameraManager() {
  const dispatch = useAppDispatch();
  const { items, error, actionError, createError, creating, busyIds } = useAppSelector((state) => state.cameras);
  const [name, setName] = useState("");
  const [source, setSource] = useState("");
  const [emptyErrors, setEmptyErrors] = useState<Record<string, string>>({});
  const [toDelete, setToDelete] = useState<Camera | null>(null);

  useEffect(() => {
    void dispatch(fetchCameras());
    // Statuses change on their own (a stream drops, reconnects): keep the table current.
    const refresh = setInterval(() => void dispatch(fetchCameras()), CAMERA_REFRESH_MS);
    return () => clearInterval(refresh);
  }, [dispatch]);

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const missing = requiredFieldErrors({ name, source });
    setEmptyErrors(missing);
    if (Object.keys(missing).length > 0) return;
    const result = await dispatch(createCamera({ name: name.trim(), source: source.trim() }));
    if (createCamera.fulfilled.match(result)) {
      setName("");
      setSource("");
    }
  };

  const confirmDelete = async () => {
    if (toDelete) await dispatch(deleteCamera(toDelete.id));
    setToDelete(null);
  };

  const fieldErrors = { ...serverFieldErrors(createError), ...emptyErrors };
  let formError: string | null = null;
  if (createError?.status === 409) fieldErrors.name ??= t("cameras.nameUsed");
  else if (createError && createError.status !== 422) formError = describeError(createError);

  return (
    <main>
      <h1>{t("cameras.title")}</h1>
      <section aria-labelledby="camera-add-heading">
        <h2 id="camera-add-heading">{t("cameras.add")}</h2>
        <form className="camera-form" onSubmit={(event) => void add(event)} noValidate data-testid="camera-form">
          <TextField id="camera-name" label={t("cameras.name")} value={name} onChange={setName} error={fieldErrors.name} />
          <TextField
            id="camera-source"
            label={t("cameras.source")}
            value={source}
            onChange={setSource}
            error={fieldErrors.source}
          />
          <ErrorMessage message={formError} testId="camera-form-error" />
          <button type="submit" className="primary" disabled={creating} data-testid="camera-submit">
            {t("cameras.submit")}
          </button>
        </form>
      </section>

      <ErrorMessage message={error && describeError(error)} testId="cameras-error" />
      <ErrorMessage message={actionError && describeError(actionError)} testId="camera-action-error" />
      {items.length === 0 ? (
        <p>{t("cameras.empty")}</p>
      ) : (
        <table className="cameras" data-testid="camera-table">
          <thead>
            <tr>
              <th scope="col">{t("cameras.colName")}</th>
              <th scope="col">{t("cameras.colSource")}</th>
              <th scope="col">{t("cameras.colStatus")}</th>
              <th scope="col">{t("cameras.colActions")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((camera) => {
              const busy = busyIds.includes(camera.id);
              const running = camera.status === "live" || camera.status === "reconnecting";
              return (
                <tr key={camera.id} data-testid="camera-row" data-camera-id={camera.id}>
                  <th scope="row">
                    <Link to={`/live?camera=${encodeURIComponent(camera.id)}`}>{camera.name}</Link>
                  </th>
                  <td className="source">{camera.source}</td>
                  <td>
                    <span className={`badge status-${camera.status}`} data-testid="camera-status" data-status={camera.status}>
                      {t(`status.${camera.status}` as MessageKey)}
                    </span>
                    {camera.error_reason && <span className="muted"> {camera.error_reason}</span>}
                  </td>
                  <td>
                    <div className="actions">
                      {running ? (
                        <button
                          type="button"
                          disabled={busy}
                          aria-label={t("cameras.stop", { name: camera.name })}
                          data-testid="camera-stop"
                          onClick={() => void dispatch(stopCamera(camera.id))}
                        >
                          {t("cameras.stopShort")}
                        </button>
                      ) : (
                        <button
                          type="button"
                          disabled={busy}
                          aria-label={t("cameras.start", { name: camera.name })}
                          data-testid="camera-start"
                          onClick={() => void dispatch(startCamera(camera.id))}
                        >
                          {t("cameras.startShort")}
                        </button>
                      )}
                      <button
                        type="button"
                        className="danger"
                        disabled={busy}
                        aria-label={t("cameras.delete", { name: camera.name })}
                        data-testid="camera-delete"
                        onClick={() => setToDelete(camera)}
                      >
                        {t("cameras.deleteShort")}
                      </button>
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <ConfirmDialog
        open={toDelete !== null}
        title={t("confirm.deleteCameraTitle", { name: toDelete?.name ?? "" })}
        body={t("confirm.deleteCameraBody")}
        busy={toDelete !== null && busyIds.includes(toDelete.id)}
        onConfirm={() => void confirmDelete()}
        onCancel={() => setToDelete(null)}
      />
    </main>
  );
}
