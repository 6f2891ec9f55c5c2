import { describe, expect, it } from "vitest";
import { FPS_WINDOW_MS, framesPerSecond, recentArrivals } from "./fps";

describe("framesPerSecond", () => {
  it.each([
    { name: "no frame", arrivals: [], expected: 0 },
    { name: "one frame", arrivals: [1000], expected: 0 },
    { name: "10 per second", arrivals: [0, 100, 200, 300, 400], expected: 10 },
    { name: "uneven, 4 intervals over 1 s", arrivals: [0, 100, 500, 600, 1000], expected: 4 },
    { name: "same instant", arrivals: [5, 5], expected: 0 },
  ])("$name", ({ arrivals, expected }) => {
    expect(framesPerSecond(arrivals)).toBeCloseTo(expected);
  });
});

describe("recentArrivals", () => {
  it("keeps the arrivals inside the window", () => {
    const now = 10_000;
    const arrivals = [now - FPS_WINDOW_MS - 1, now - FPS_WINDOW_MS, now - 10, now];
    expect(recentArrivals(arrivals, now)).toEqual([now - FPS_WINDOW_MS, now - 10, now]);
  });
});
