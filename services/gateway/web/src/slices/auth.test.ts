import { afterEach, describe, expect, it, vi } from "vitest";
import { setBearerToken } from "../api";
import { makeStore } from "../store";
import reducer, { initialAuthState, loadMe, login, logout, signup } from "./auth";
import { fetchEvents } from "./events";
import { stubApi } from "./testing";

const ann = { username: "ann", email: "ann@example.org", role: "admin" };

afterEach(() => {
  vi.unstubAllGlobals();
  setBearerToken(null);
});

describe("auth thunks", () => {
  it("loadMe: the cookie's user is signed in", async () => {
    stubApi({ "GET /api/me": { status: 200, body: ann } });
    const store = makeStore();
    await store.dispatch(loadMe());
    expect(store.getState().auth).toMatchObject({ session: "authenticated", user: ann });
  });

  it("loadMe: no cookie means anonymous", async () => {
    stubApi({ "GET /api/me": { status: 401, body: { detail: "not authenticated" } } });
    const store = makeStore();
    await store.dispatch(loadMe());
    expect(store.getState().auth).toMatchObject({ session: "anonymous", user: null });
  });

  it("login: keeps the token for later requests and loads the user", async () => {
    const calls = stubApi({
      "POST /api/auth/login": { status: 200, body: { access_token: "abc", token_type: "bearer" } },
      "GET /api/me": { status: 200, body: ann },
    });
    const store = makeStore();
    await store.dispatch(login({ username: "ann", password: "secret123" }));
    expect(store.getState().auth).toMatchObject({ session: "authenticated", user: ann, loginError: null });
    expect(calls[1]).toMatchObject({ method: "GET", url: "/api/me", headers: { Authorization: "Bearer abc" } });
  });

  it.each([
    [401, { detail: "wrong username or password" }],
    [429, { detail: "too many failed logins" }],
  ])("login: %i is kept as the login error", async (status, body) => {
    stubApi({ "POST /api/auth/login": { status, body } });
    const store = makeStore();
    await store.dispatch(login({ username: "ann", password: "nope" }));
    expect(store.getState().auth.session).toBe("unknown");
    expect(store.getState().auth.loginError).toMatchObject({ status, message: body.detail });
    expect(store.getState().auth.pending).toBe(false);
  });

  it("signup: creates the account, then logs in", async () => {
    const calls = stubApi({
      "POST /api/auth/signup": { status: 201, body: ann },
      "POST /api/auth/login": { status: 200, body: { access_token: "abc", token_type: "bearer" } },
      "GET /api/me": { status: 200, body: ann },
    });
    const store = makeStore();
    await store.dispatch(signup({ username: "ann", email: "ann@example.org", password: "secret123" }));
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(["POST /api/auth/signup", "POST /api/auth/login", "GET /api/me"]);
    expect(store.getState().auth).toMatchObject({ session: "authenticated", signupError: null });
  });

  it("signup: a 409 says which field is taken", async () => {
    stubApi({ "POST /api/auth/signup": { status: 409, body: { detail: "email already used" } } });
    const store = makeStore();
    await store.dispatch(signup({ username: "ann", email: "ann@example.org", password: "secret123" }));
    expect(store.getState().auth.signupError).toMatchObject({ status: 409, message: "email already used" });
  });

  it("logout: back to anonymous even if the server cannot be reached", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("offline"))));
    const store = makeStore();
    await store.dispatch(logout());
    expect(store.getState().auth).toEqual({ ...initialAuthState, session: "anonymous" });
  });
});

describe("session end", () => {
  const signedIn = { ...initialAuthState, session: "authenticated" as const, user: { ...ann, role: "admin" as const } };

  it.each([
    { name: "a 401 from another resource ends the session", status: 401, type: fetchEvents.rejected.type, ends: true },
    { name: "a 403 does not", status: 403, type: fetchEvents.rejected.type, ends: false },
    { name: "an auth request's own 401 is its own business", status: 401, type: login.rejected.type, ends: false },
  ])("$name", ({ status, type, ends }) => {
    const state = reducer(signedIn, { type, payload: { status, message: "x", fieldErrors: {} } });
    expect(state.session).toBe(ends ? "anonymous" : "authenticated");
    expect(state.sessionExpired).toBe(ends);
  });
});
