// fetch() cannot report upload progress, XMLHttpRequest can.
import { ApiError, NETWORK_ERROR, authHeaders, parseErrorBody } from "../api";
import type { UploadAccepted } from "../types";

/** The part of XMLHttpRequest used here, so tests can hand in a fake. */
export interface XhrLike {
  upload: { onprogress: ((event: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  status: number;
  responseText: string;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: FormData): void;
  abort(): void;
}

export interface UploadHandle {
  done: Promise<UploadAccepted>;
  abort: () => void;
}

export function uploadWithProgress(
  file: Blob & { name?: string },
  onProgress: (fraction: number) => void,
  makeXhr: () => XhrLike = () => new XMLHttpRequest() as unknown as XhrLike,
): UploadHandle {
  const xhr = makeXhr();
  const done = new Promise<UploadAccepted>((resolve, reject) => {
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(Math.min(1, event.loaded / event.total));
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body && typeof body === "object") {
        onProgress(1);
        resolve(body as UploadAccepted);
      } else {
        reject(new ApiError(parseErrorBody(xhr.status, body)));
      }
    };
    xhr.onerror = () => reject(new ApiError({ status: 0, message: NETWORK_ERROR, fieldErrors: {} }));
    xhr.onabort = () => reject(new ApiError({ status: 0, message: "aborted", fieldErrors: {} }));
  });
  const form = new FormData();
  form.append("file", file, file.name ?? "upload");
  xhr.open("POST", "/api/uploads");
  xhr.setRequestHeader("Accept", "application/json");
  for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
  xhr.send(form);
  return { done, abort: () => xhr.abort() };
}
