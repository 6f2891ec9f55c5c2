import { type FormEvent, useEffect, useRef, useState } from "react";
import { Link, useLocation, useSearchParams } from "react-router-dom";
import { ErrorMessage } from "../components/ErrorMessage";
import { describeError } from "../errors";
import { browserTimeZone, formatDateTime, formatScore } from "../format";
import { pluralKey, t } from "../i18n";
import { fetchCameras } from "../slices/cameras";
import { fetchEvents } from "../slices/events";
import { useAppDispatch, useAppSelector } from "../store";
import type { Camera, VigilEvent } from "../types";

export const PAGE_SIZE = 20;
const DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(total / pageSize));
}

export function sourceName(event: VigilEvent, cameras: Camera[]): string {
  if (event.source_kind === "upload") return t("repo.source.upload");
  return cameras.find((c) => c.id === event.camera_id)?.name ?? event.camera_id ?? "";
}

export function RepositoryPage() {
  const dispatch = useAppDispatch();
  const location = useLocation();
  const [params, setParams] = useSearchParams();
  const date = DATE_PATTERN.test(params.get("date") ?? "") ? (params.get("date") as string) : "";
  const page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
  const [dateInput, setDateInput] = useState(date);
  const { list, listLoading, listError } = useAppSelector((state) => state.events);
  const cameras = useAppSelector((state) => state.cameras.items);
  const justDeleted = (location.state as { deleted?: boolean } | null)?.deleted === true;

  // The field follows the URL when it changes from outside (back, forward, clear), but not after
  // our own search: the user may already be typing the next date, which must not be reset.
  const searched = useRef<string | null>(null);
  useEffect(() => {
    if (searched.current !== date) setDateInput(date);
    searched.current = null;
  }, [date]);

  useEffect(() => {
    void dispatch(fetchCameras());
  }, [dispatch]);

  useEffect(() => {
    const request = dispatch(
      fetchEvents({ date: date || undefined, tz: date ? browserTimeZone() : undefined, page, page_size: PAGE_SIZE }),
    );
    return () => request.abort();
  }, [date, page, dispatch]);

  const search = (event: FormEvent) => {
    event.preventDefault();
    searched.current = dateInput;
    setParams(dateInput ? { date: dateInput } : {});
  };
  const goTo = (target: number) => setParams({ ...(date ? { date } : {}), page: String(target) });
  const pages = list ? pageCount(list.total, list.page_size) : 1;

  return (
    <main>
      <h1>{t("repo.title")}</h1>
      {justDeleted && (
        <p className="notice" role="status" data-testid="event-deleted-notice">
          {t("event.deleted")}
        </p>
      )}
      <form className="toolbar" onSubmit={search} role="search" data-testid="event-search">
        <div className="field inline">
          <label htmlFor="repo-date">{t("repo.date")}</label>
          <input
            id="repo-date"
            type="date"
            value={dateInput}
            data-testid="repo-date"
            onChange={(event) => setDateInput(event.target.value)}
          />
        </div>
        <button type="submit" className="primary" data-testid="repo-search">
          {t("repo.search")}
        </button>
        {date && (
          <button type="button" data-testid="repo-clear" onClick={() => setParams({})}>
            {t("repo.clear")}
          </button>
        )}
      </form>

      <ErrorMessage message={listError && describeError(listError)} testId="repo-error" />
      {listLoading && !list && <p>{t("app.loading")}</p>}
      {list && (
        <>
          <p data-testid="event-count" aria-live="polite">
            {t(pluralKey(list.total, "repo.countOne", "repo.count"), { total: list.total })}
          </p>
          {list.items.length === 0 ? (
            <p data-testid="event-list-empty">{t("repo.empty")}</p>
          ) : (
            <ul className="event-list" data-testid="event-list" aria-busy={listLoading}>
              {list.items.map((event) => (
                <EventRow key={event.id} event={event} source={sourceName(event, cameras)} />
              ))}
            </ul>
          )}
          <nav className="pagination" aria-label={t("repo.pageOf", { page: list.page, pages })}>
            <button type="button" disabled={page <= 1} onClick={() => goTo(page - 1)} data-testid="page-previous">
              {t("repo.previous")}
            </button>
            <span data-testid="pagination-status">{t("repo.pageOf", { page: list.page, pages })}</span>
            <button type="button" disabled={page >= pages} onClick={() => goTo(page + 1)} data-testid="page-next">
              {t("repo.next")}
            </button>
          </nav>
        </>
      )}
    </main>
  );
}

function EventRow({ event, source }: { event: VigilEvent; source: string }) {
  const when = formatDateTime(event.started_at);
  return (
    <li className="event-row" data-testid="event-row" data-event-id={event.id}>
      <Link to={`/repository/${encodeURIComponent(event.id)}`} aria-label={t("repo.open", { when })}>
        {event.poster_url ? (
          <img className="thumb" src={event.poster_url} alt={t("repo.thumbnail", { when })} loading="lazy" data-testid="event-thumbnail" />
        ) : (
          <span className="thumb placeholder" aria-hidden="true" />
        )}
        <span className="event-row-text">
          <time dateTime={event.started_at} data-testid="event-row-time">
            {when}
          </time>
          <span>{source}</span>
          <span className="muted">
            {t(pluralKey(event.culprits.length, "repo.culpritCountOne", "repo.culpritCount"), {
              count: event.culprits.length,
            })} · {t("event.peakScore")}{" "}
            {formatScore(event.scores.peak)}
          </span>
        </span>
      </Link>
    </li>
  );
}
