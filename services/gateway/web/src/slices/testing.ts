// Helpers for slice tests: a fetch that answers by method and path.
import { vi } from "vitest";

export type Route = { status: number; body?: unknown };

export function stubApi(routes: Record<string, Route | Route[]>) {
  const calls: { method: string; url: string; headers: Record<string, string> }[] = [];
  const fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    calls.push({ method, url, headers: (init.headers ?? {}) as Record<string, string> });
    const key = `${method} ${url.split("?")[0]}`;
    const entry = routes[key];
    const route = Array.isArray(entry) ? entry.shift() : entry;
    if (!route) return new Response('{"detail":"no route in test"}', { status: 599 });
    return new Response(route.body === undefined ? null : JSON.stringify(route.body), { status: route.status });
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}
