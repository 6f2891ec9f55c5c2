import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, apiRequest, parseErrorBody, setBearerToken, toQueryString } from "./api";

describe("parseErrorBody", () => {
  it.each([
    {
      name: "string detail",
      status: 401,
      body: { detail: "wrong username or password" },
      expected: { status: 401, message: "wrong username or password", fieldErrors: {} },
    },
    {
      name: "validation list, first error per field",
      status: 422,
      body: {
        detail: [
          { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error" },
          { loc: ["body", "email"], msg: "second", type: "other" },
          { loc: ["body", "password"], msg: "String should have at least 8 characters", type: "string_too_short" },
        ],
      },
      expected: {
        status: 422,
        message: "invalid fields",
        fieldErrors: {
          email: { type: "value_error", message: "value is not a valid email address" },
          password: { type: "string_too_short", message: "String should have at least 8 characters" },
        },
      },
    },
    {
      name: "whole-body error",
      status: 422,
      body: { detail: [{ loc: ["body"], msg: "Field required", type: "missing" }] },
      expected: { status: 422, message: "invalid fields", fieldErrors: { form: { type: "missing", message: "Field required" } } },
    },
    { name: "no JSON body", status: 502, body: null, expected: { status: 502, message: "HTTP 502", fieldErrors: {} } },
  ])("$name", ({ status, body, expected }) => {
    expect(parseErrorBody(status, body)).toEqual(expected);
  });
});

describe("toQueryString", () => {
  it.each([
    [{}, ""],
    [{ date: "2024-05-01", page: 2 }, "?date=2024-05-01&page=2"],
    [{ date: "", camera: undefined, page: null, tz: "Europe/Paris" }, "?tz=Europe%2FParis"],
  ])("%j -> %s", (query, expected) => {
    expect(toQueryString(query)).toBe(expected);
  });
});

describe("apiRequest", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    setBearerToken(null);
  });

  function stubFetch(status: number, body: string) {
    const fetchMock = vi.fn(async (_url: string, _init: RequestInit) => new Response(body || null, { status }));
    vi.stubGlobal("fetch", fetchMock);
    return fetchMock;
  }

  it("sends JSON with the bearer token and returns the parsed body", async () => {
    const fetchMock = stubFetch(200, '{"username":"ann"}');
    setBearerToken("tok");
    const result = await apiRequest("POST", "/api/x", { body: { a: 1 }, query: { page: 2 } });
    expect(result).toEqual({ username: "ann" });
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe("/api/x?page=2");
    expect(init.body).toBe('{"a":1}');
    expect(init.headers).toMatchObject({ Authorization: "Bearer tok", "Content-Type": "application/json" });
  });

  it("sends no Authorization header without a token (the cookie does)", async () => {
    const fetchMock = stubFetch(204, "");
    expect(await apiRequest("DELETE", "/api/events/1")).toBeNull();
    expect(fetchMock.mock.calls[0][1].headers).not.toHaveProperty("Authorization");
  });

  it("throws ApiError with the detail", async () => {
    stubFetch(409, '{"detail":"email already used"}');
    const error = await apiRequest("POST", "/api/auth/signup").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).info).toEqual({ status: 409, message: "email already used", fieldErrors: {} });
  });

  it("turns an unreachable server into status 0", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    const error = await apiRequest("GET", "/api/me").catch((e: unknown) => e);
    expect((error as ApiError).info.status).toBe(0);
  });
});
