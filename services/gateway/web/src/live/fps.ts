// Frames per second as the viewer sees them: over the arrivals of the last couple of seconds.
export const FPS_WINDOW_MS = 2000;

/** Keeps the arrival times (ms) that still fall inside the window ending at `now`. */
export function recentArrivals(arrivals: readonly number[], now: number, windowMs = FPS_WINDOW_MS): number[] {
  return arrivals.filter((t) => now - t <= windowMs);
}

/** Intervals over elapsed time, so one frame alone (or a stalled stream) reads 0, not a guess. */
export function framesPerSecond(arrivals: readonly number[]): number {
  if (arrivals.length < 2) return 0;
  const span = arrivals[arrivals.length - 1] - arrivals[0];
  return span > 0 ? ((arrivals.length - 1) * 1000) / span : 0;
}
