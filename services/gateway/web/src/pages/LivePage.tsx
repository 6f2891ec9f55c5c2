import { useEffect, useRef } from "react";
import { useSearchParams } from "react-router-dom";
import { ErrorMessage } from "../components/ErrorMessage";
import { describeError } from "../errors";
import { formatScore } from "../format";
import { type MessageKey, t } from "../i18n";
import { drawOrder } from "../live/geometry";
import { makeFrameRenderer } from "../live/frameRenderer";
import { CLOSE_UNAUTHORIZED, openLiveFeed } from "../live/liveSocket";
import { liveSocketUrl } from "../live/socketUrl";
import { loadMe } from "../slices/auth";
import { fetchCameras, startCamera } from "../slices/cameras";
import { cameraSelected, clockTicked, connectionChanged, frameReceived, statusReceived } from "../slices/live";
import { useAppDispatch, useAppSelector } from "../store";

export function LivePage() {
  const dispatch = useAppDispatch();
  const [params, setParams] = useSearchParams();
  const cameraId = params.get("camera");
  const cameras = useAppSelector((state) => state.cameras);
  const live = useAppSelector((state) => state.live);
  const isAdmin = useAppSelector((state) => state.auth.user?.role === "admin");
  const canvasRef = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    void dispatch(fetchCameras());
  }, [dispatch]);

  useEffect(() => {
    dispatch(cameraSelected(cameraId));
    if (!cameraId) return;
    const renderer = makeFrameRenderer(
      () => canvasRef.current,
      (frame) =>
        dispatch(
          frameReceived({
            frame_index: frame.frame_index,
            captured_at: frame.captured_at,
            overlay: frame.overlay,
            receivedAt: Date.now(),
          }),
        ),
    );
    const close = openLiveFeed(liveSocketUrl(window.location, cameraId), {
      onFrame: renderer.push,
      onStatus: ({ status, error_reason }) => dispatch(statusReceived({ status, error_reason })),
      onConnection: (state, closeCode) => {
        dispatch(connectionChanged({ state, closeCode }));
        if (closeCode === CLOSE_UNAUTHORIZED) void dispatch(loadMe()); // finds the session gone
      },
    });
    const clock = setInterval(() => dispatch(clockTicked(Date.now())), 1000);
    return () => {
      clearInterval(clock);
      close();
      renderer.stop();
    };
  }, [cameraId, dispatch]);

  const camera = cameras.items.find((c) => c.id === cameraId);
  const cameraName = camera?.name ?? cameraId ?? "";
  const status = live.cameraStatus ?? camera?.status ?? null;
  const violentCount = live.overlay.filter((item) => item.violent).length;
  const closedMessage =
    live.connection === "closed" && live.closeCode !== null && live.closeCode !== CLOSE_UNAUTHORIZED
      ? live.closeCode === 4404 || live.closeCode === 4403
        ? t(`live.closed.${live.closeCode}` as MessageKey)
        : t("live.closed.other")
      : null;

  return (
    <main>
      <h1>{t("live.title")}</h1>
      <div className="toolbar">
        <div className="field inline">
          <label htmlFor="live-camera">{t("live.camera")}</label>
          <select
            id="live-camera"
            data-testid="live-camera-select"
            value={cameraId ?? ""}
            onChange={(event) => setParams(event.target.value ? { camera: event.target.value } : {})}
          >
            <option value="">{t("live.pickCamera")}</option>
            {cameras.items.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        {isAdmin && cameraId && (status === "idle" || status === "error") && (
          <button
            type="button"
            data-testid="live-start-camera"
            disabled={cameras.busyIds.includes(cameraId)}
            onClick={() => void dispatch(startCamera(cameraId))}
          >
            {t("live.startCamera")}
          </button>
        )}
      </div>
      {!cameras.loading && cameras.items.length === 0 && !cameras.error && <p>{t("live.noCameras")}</p>}
      <ErrorMessage message={cameras.error && describeError(cameras.error)} testId="live-error" />
      <ErrorMessage message={cameras.actionError && describeError(cameras.actionError)} testId="live-action-error" />

      {cameraId && (
        <section aria-label={cameraName}>
          <dl className="live-stats">
            <div>
              <dt>{t("live.status")}</dt>
              <dd>
                <span className={`badge status-${status ?? "unknown"}`} data-testid="live-camera-status" data-status={status ?? ""}>
                  {status ? t(`status.${status}` as MessageKey) : "…"}
                </span>
                {live.errorReason && <span className="muted"> {live.errorReason}</span>}
              </dd>
            </div>
            <div>
              <dt>{t("live.connection")}</dt>
              <dd data-testid="live-connection" data-state={live.connection}>
                {t(`connection.${live.connection}` as MessageKey)}
              </dd>
            </div>
            <div>
              <dt>{t("live.fps")}</dt>
              <dd data-testid="live-fps">{live.fps.toFixed(1)}</dd>
            </div>
          </dl>
          <ErrorMessage message={closedMessage} testId="live-closed" />

          <div className="alert-slot" aria-live="assertive">
            {live.violentOnScreen && (
              <div className="alert-banner" role="alert" data-testid="live-alert">
                {t("live.alert")}
              </div>
            )}
          </div>

          <div className="frame-box">
            <canvas
              ref={canvasRef}
              width={640}
              height={360}
              role="img"
              aria-label={t("live.frameAlt", { camera: cameraName, count: live.overlay.length })}
              data-testid="live-canvas"
              data-frame-index={live.frameIndex ?? ""}
              data-box-count={live.overlay.length}
              data-violent-count={violentCount}
            />
            {live.frameIndex === null && <p className="frame-waiting">{t("live.waiting")}</p>}
          </div>

          <h2 className="small-heading">{t("live.people")}</h2>
          <ul className="people" data-testid="live-people">
            {drawOrder(live.overlay)
              .reverse()
              .map((item) => (
                <li key={item.track_id} className={item.violent ? "violent" : "calm"} data-testid="live-person" data-violent={item.violent}>
                  {t("live.person", {
                    id: item.track_id,
                    verdict: t(item.violent ? "live.violent" : "live.calm"),
                    score: formatScore(item.score),
                  })}
                </li>
              ))}
          </ul>
        </section>
      )}
    </main>
  );
}
