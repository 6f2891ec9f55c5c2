/** ws:// or wss:// to the same host that served the page; the cookie authenticates it. */
export function liveSocketUrl(location: Pick<Location, "protocol" | "host">, cameraId: string): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/api/live/${encodeURIComponent(cameraId)}`;
}
