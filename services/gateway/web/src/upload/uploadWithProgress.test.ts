import { describe, expect, it } from "vitest";
import { ApiError, setBearerToken } from "../api";
import { type XhrLike, uploadWithProgress } from "./uploadWithProgress";

class FakeXhr implements XhrLike {
  upload: XhrLike["upload"] = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  status = 0;
  responseText = "";
  opened: [string, string] | null = null;
  headers: Record<string, string> = {};
  sent: FormData | null = null;
  open(method: string, url: string) {
    this.opened = [method, url];
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: FormData) {
    this.sent = body;
  }
  abort() {
    this.onabort?.();
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

function start() {
  const xhr = new FakeXhr();
  const progress: number[] = [];
  const file = new File([new Uint8Array([1, 2, 3])], "fight.mp4", { type: "video/mp4" });
  const handle = uploadWithProgress(file, (f) => progress.push(f), () => xhr);
  return { xhr, progress, handle };
}

describe("uploadWithProgress", () => {
  it("posts the file as multipart field `file` with the token, and reports progress", async () => {
    setBearerToken("tok");
    const { xhr, progress, handle } = start();
    setBearerToken(null);
    expect(xhr.opened).toEqual(["POST", "/api/uploads"]);
    expect(xhr.headers.Authorization).toBe("Bearer tok");
    expect((xhr.sent?.get("file") as File).name).toBe("fight.mp4");
    xhr.upload.onprogress?.({ loaded: 1, total: 4, lengthComputable: true });
    xhr.upload.onprogress?.({ loaded: 9, total: 0, lengthComputable: false });
    xhr.answer(202, { job_id: "job-1" });
    await expect(handle.done).resolves.toEqual({ job_id: "job-1" });
    expect(progress).toEqual([0.25, 1]);
  });

  it.each([
    [413, "file too large (limit 500 MB)"],
    [415, "not a video"],
    [400, "empty file"],
  ])("rejects a %i with the detail", async (status, detail) => {
    const { xhr, handle } = start();
    xhr.answer(status, { detail });
    const error = await handle.done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).info).toMatchObject({ status, message: detail });
  });

  it("a dropped connection is status 0", async () => {
    const { xhr, handle } = start();
    xhr.onerror?.();
    await expect(handle.done).rejects.toMatchObject({ info: { status: 0 } });
  });

  it("abort rejects", async () => {
    const { handle } = start();
    handle.abort();
    await expect(handle.done).rejects.toBeInstanceOf(ApiError);
  });
});
