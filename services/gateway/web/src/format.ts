import { language } from "./i18n";

const dateTime = new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "medium" });

/** An ISO 8601 instant in the viewer's time zone, date and time. */
export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** Seconds into a video as m:ss (h:mm:ss past an hour). */
export function formatOffset(totalSeconds: number): string {
  const whole = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function formatScore(score: number): string {
  return score.toFixed(2);
}

/** The viewer's IANA time zone, which the events API uses to read `date`. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
