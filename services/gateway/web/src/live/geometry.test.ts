import { describe, expect, it } from "vitest";
import type { OverlayBox } from "../types";
import {
  CALM_COLOR,
  VIOLENT_COLOR,
  type OverlayContext,
  boxColor,
  clampBox,
  drawOrder,
  drawOverlay,
  labelRect,
  labelText,
  lineWidthFor,
} from "./geometry";

const person = (track_id: number, violent: boolean, box: OverlayBox["box"] = [10, 20, 50, 100]): OverlayBox => ({
  track_id,
  box,
  violent,
  score: violent ? 0.9 : 0.1,
});

describe("clampBox", () => {
  it.each([
    { name: "inside", box: [10, 20, 50, 100], expected: { x: 10, y: 20, w: 40, h: 80 } },
    { name: "corners swapped", box: [50, 100, 10, 20], expected: { x: 10, y: 20, w: 40, h: 80 } },
    { name: "past the right and bottom", box: [600, 300, 700, 400], expected: { x: 600, y: 300, w: 40, h: 60 } },
    { name: "negative start", box: [-5, -10, 20, 30], expected: { x: 0, y: 0, w: 20, h: 30 } },
    { name: "wholly outside", box: [700, 10, 800, 50], expected: null },
    { name: "zero width", box: [30, 10, 30, 50], expected: null },
    { name: "not a number", box: [Number.NaN, 10, 30, 50], expected: null },
    { name: "too few numbers", box: [1, 2, 3], expected: null },
  ])("$name", ({ box, expected }) => {
    expect(clampBox(box, 640, 360)).toEqual(expected);
  });
});

describe("lineWidthFor", () => {
  it.each([
    [320, 240, 2],
    [640, 360, 2],
    [1920, 1080, 5],
    [3840, 2160, 9],
  ])("%ix%i frame -> %i px", (width, height, expected) => {
    expect(lineWidthFor(width, height)).toBe(expected);
  });
});

describe("labelRect", () => {
  it.each([
    { name: "room above: sits on the box", box: { x: 100, y: 50, w: 40, h: 80 }, expected: { x: 100, y: 30 } },
    { name: "no room above: inside the top edge", box: { x: 100, y: 5, w: 40, h: 80 }, expected: { x: 100, y: 5 } },
    { name: "at the right edge: shifted left", box: { x: 620, y: 50, w: 20, h: 80 }, expected: { x: 574, y: 30 } },
  ])("$name", ({ box, expected }) => {
    // text 60 x 16 -> label 66 x 20
    const rect = labelRect(box, 60, 16, 640);
    expect(rect).toEqual({ ...expected, w: 66, h: 20 });
    expect(rect.x + rect.w).toBeLessThanOrEqual(640);
  });
});

describe("colours and order", () => {
  it("violent is red, the rest green", () => {
    expect(boxColor(true)).toBe(VIOLENT_COLOR);
    expect(boxColor(false)).toBe(CALM_COLOR);
  });

  it("draws calm people before violent ones, keeping their order", () => {
    const order = drawOrder([person(1, true), person(2, false), person(3, true), person(4, false)]);
    expect(order.map((p) => p.track_id)).toEqual([2, 4, 1, 3]);
  });

  it("labels with the track id and the score", () => {
    expect(labelText({ track_id: 7, box: [0, 0, 1, 1], violent: true, score: 0.876 })).toBe("#7 0.88");
  });
});

/** Records each stroked box with the colour it was stroked in. */
function recordingContext() {
  const strokes: { color: string; rect: number[] }[] = [];
  const texts: string[] = [];
  const ctx = {
    strokeStyle: "",
    fillStyle: "",
    lineWidth: 0,
    font: "",
    textBaseline: "alphabetic",
    strokeRect(x: number, y: number, w: number, h: number) {
      strokes.push({ color: String(this.strokeStyle), rect: [x, y, w, h] });
    },
    fillRect() {},
    fillText(text: string) {
      texts.push(text);
    },
    measureText(text: string) {
      return { width: text.length * 7 } as TextMetrics;
    },
  };
  return { ctx: ctx as unknown as OverlayContext, strokes, texts };
}

describe("drawOverlay", () => {
  it("strokes violent people red and the others green, red on top", () => {
    const { ctx, strokes, texts } = recordingContext();
    drawOverlay(ctx, [person(1, true, [10, 10, 60, 120]), person(2, false, [100, 10, 150, 120])], 640, 360);
    expect(strokes).toEqual([
      { color: CALM_COLOR, rect: [100, 10, 50, 110] },
      { color: VIOLENT_COLOR, rect: [10, 10, 50, 110] },
    ]);
    expect(texts).toEqual(["#2 0.10", "#1 0.90"]);
  });

  it("skips boxes wholly outside the frame", () => {
    const { ctx, strokes } = recordingContext();
    drawOverlay(ctx, [person(1, true, [700, 10, 760, 120]), person(2, false)], 640, 360);
    expect(strokes.map((s) => s.color)).toEqual([CALM_COLOR]);
  });
});
