import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { CulpritList } from "../components/CulpritList";
import { ErrorMessage } from "../components/ErrorMessage";
import { describeError } from "../errors";
import { formatDateTime, formatScore } from "../format";
import { t } from "../i18n";
import { fetchCameras } from "../slices/cameras";
import { deleteEvent, fetchEvent } from "../slices/events";
import { useAppDispatch, useAppSelector } from "../store";
import { sourceName } from "./RepositoryPage";

export function EventPage() {
  const { eventId = "" } = useParams();
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const { detail, detailLoading, detailError, deleting, deleteError } = useAppSelector((state) => state.events);
  const cameras = useAppSelector((state) => state.cameras.items);
  const isAdmin = useAppSelector((state) => state.auth.user?.role === "admin");
  const [confirming, setConfirming] = useState(false);

  useEffect(() => {
    void dispatch(fetchEvent(eventId));
    void dispatch(fetchCameras());
  }, [eventId, dispatch]);

  const confirmDelete = async () => {
    const result = await dispatch(deleteEvent(eventId));
    setConfirming(false);
    if (deleteEvent.fulfilled.match(result)) navigate("/repository", { state: { deleted: true } });
  };

  const event = detail?.id === eventId ? detail : null;

  return (
    <main>
      <p>
        <Link to="/repository" data-testid="event-back">
          {t("event.back")}
        </Link>
      </p>
      <h1>{t("event.title")}</h1>
      <ErrorMessage message={detailError && describeError(detailError)} testId="event-error" />
      {detailLoading && !event && <p>{t("app.loading")}</p>}
      {event && (
        <article data-testid="event-detail" data-event-id={event.id}>
          {event.clip_url ? (
            <video
              className="player"
              controls
              preload="auto"
              src={event.clip_url}
              poster={event.poster_url ?? undefined}
              aria-label={t("event.clip")}
              data-testid="event-clip"
            />
          ) : (
            <p data-testid="event-no-clip">{t("event.noClip")}</p>
          )}
          <dl className="facts">
            <div>
              <dt>{t("event.started")}</dt>
              <dd>
                <time dateTime={event.started_at} data-testid="event-started">
                  {formatDateTime(event.started_at)}
                </time>
              </dd>
            </div>
            <div>
              <dt>{t("event.ended")}</dt>
              <dd data-testid="event-ended">
                {event.ended_at ? <time dateTime={event.ended_at}>{formatDateTime(event.ended_at)}</time> : t("event.ongoing")}
              </dd>
            </div>
            <div>
              <dt>{t("event.camera")}</dt>
              <dd data-testid="event-source">{sourceName(event, cameras)}</dd>
            </div>
            <div>
              <dt>{t("event.peakScore")}</dt>
              <dd>{formatScore(event.scores.peak)}</dd>
            </div>
          </dl>
          <h2>{t("event.culprits")}</h2>
          <CulpritList culprits={event.culprits} />
          {isAdmin && (
            <p>
              <button type="button" className="danger" onClick={() => setConfirming(true)} data-testid="event-delete">
                {t("event.delete")}
              </button>
            </p>
          )}
          <ErrorMessage message={deleteError && describeError(deleteError)} testId="event-delete-error" />
          <ConfirmDialog
            open={confirming}
            title={t("confirm.deleteEventTitle")}
            body={t("confirm.deleteEventBody")}
            busy={deleting}
            onConfirm={() => void confirmDelete()}
            onCancel={() => setConfirming(false)}
          />
        </article>
      )}
    </main>
  );
}
