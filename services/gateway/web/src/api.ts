// The one door to the gateway's HTTP API: JSON in and out, errors as ApiError.
import type {
  Camera,
  Job,
  LoginResponse,
  Page,
  User,
  VigilEvent,
} from "./types";

export interface FieldError {
  type: string;
  message: string;
}

/** What a failed request leaves behind; plain data so it can travel in Redux actions. */
export interface ApiErrorInfo {
  status: number; // 0 when the gateway could not be reached
  message: string; // FastAPI's `detail` when it is a string
  fieldErrors: Record<string, FieldError>;
}

export class ApiError extends Error {
  readonly info: ApiErrorInfo;

  constructor(info: ApiErrorInfo) {
    super(info.message);
    this.name = "ApiError";
    this.info = info;
  }
}

export const NETWORK_ERROR = "network error";

interface ValidationItem {
  loc?: unknown[];
  msg?: unknown;
  type?: unknown;
}

/** Reads FastAPI's error bodies: `{"detail": "text"}` or a 422 `{"detail": [{loc, msg, type}]}`. */
export function parseErrorBody(status: number, body: unknown): ApiErrorInfo {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") {
    return { status, message: detail, fieldErrors: {} };
  }
  if (Array.isArray(detail)) {
    const fieldErrors: Record<string, FieldError> = {};
    for (const item of detail as ValidationItem[]) {
      const loc = Array.isArray(item?.loc) ? item.loc : [];
      // loc is ["body", "email"] for a field; ["body"] for the body as a whole.
      const field = loc.length > 1 ? String(loc[loc.length - 1]) : "form";
      if (!(field in fieldErrors)) {
        fieldErrors[field] = { type: String(item?.type ?? ""), message: String(item?.msg ?? "") };
      }
    }
    return { status, message: "invalid fields", fieldErrors };
  }
  return { status, message: `HTTP ${status}`, fieldErrors: {} };
}

export function toErrorInfo(error: unknown): ApiErrorInfo {
  if (error instanceof ApiError) return error.info;
  return { status: 0, message: NETWORK_ERROR, fieldErrors: {} };
}

export type Query = Record<string, string | number | null | undefined>;

/** Builds `?a=1&b=x` from the set values only (empty strings are left out too). */
export function toQueryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

// The httpOnly cookie authenticates the browser anyway; the bearer token from login is sent too
// while this page lives, and dropped on logout. It is never written to storage.
let bearerToken: string | null = null;

export function setBearerToken(token: string | null): void {
  bearerToken = token;
}

export function authHeaders(): Record<string, string> {
  return bearerToken ? { Authorization: `Bearer ${bearerToken}` } : {};
}

interface RequestOptions {
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
}

export async function apiRequest<T>(
  method: string,
  path: string,
  { body, query, signal }: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path + toQueryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError({ status: 0, message: NETWORK_ERROR, fieldErrors: {} });
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null; // a proxy's HTML error page, say: the status still tells what happened
    }
  }
  if (!response.ok) throw new ApiError(parseErrorBody(response.status, parsed));
  return parsed as T;
}

const path = (strings: TemplateStringsArray, ...ids: string[]) =>
  strings.reduce((out, part, i) => out + part + (i < ids.length ? encodeURIComponent(ids[i]) : ""), "");

export interface EventQuery {
  date?: string;
  tz?: string;
  camera?: string;
  page?: number;
  page_size?: number;
}

export const api = {
  me: () => apiRequest<User>("GET", "/api/me"),
  login: (username: string, password: string) =>
    apiRequest<LoginResponse>("POST", "/api/auth/login", { body: { username, password } }),
  signup: (username: string, email: string, password: string) =>
    apiRequest<User>("POST", "/api/auth/signup", { body: { username, email, password } }),
  logout: () => apiRequest<null>("POST", "/api/auth/logout"),

  listCameras: () => apiRequest<Camera[]>("GET", "/api/cameras"),
  createCamera: (name: string, source: string) =>
    apiRequest<Camera>("POST", "/api/cameras", { body: { name, source } }),
  deleteCamera: (id: string) => apiRequest<null>("DELETE", path`/api/cameras/${id}`),
  startCamera: (id: string) => apiRequest<Camera>("POST", path`/api/cameras/${id}/start`),
  stopCamera: (id: string) => apiRequest<Camera>("POST", path`/api/cameras/${id}/stop`),

  listEvents: (query: EventQuery, signal?: AbortSignal) =>
    apiRequest<Page<VigilEvent>>("GET", "/api/events", { query: { ...query }, signal }),
  getEvent: (id: string) => apiRequest<VigilEvent>("GET", path`/api/events/${id}`),
  deleteEvent: (id: string) => apiRequest<null>("DELETE", path`/api/events/${id}`),

  getJob: (id: string, signal?: AbortSignal) =>
    apiRequest<Job>("GET", path`/api/jobs/${id}`, { signal }),
};
