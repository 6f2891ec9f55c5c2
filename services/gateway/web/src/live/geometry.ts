// Where boxes and their labels go on a frame. Box coordinates are pixels of the frame the
// overlay came with ([x1, y1, x2, y2]), and the canvas is sized to that frame, so no scaling.
import type { OverlayBox } from "../types";

export const VIOLENT_COLOR = "#e53935";
export const CALM_COLOR = "#43a047";

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export function boxColor(violent: boolean): string {
  return violent ? VIOLENT_COLOR : CALM_COLOR;
}

/** Orders the corners, keeps the box inside the frame; null when nothing of it is left. */
export function clampBox(box: readonly number[], width: number, height: number): Rect | null {
  if (box.length !== 4 || !box.every(Number.isFinite)) return null;
  const [ax, ay, bx, by] = box;
  const x1 = Math.max(0, Math.min(ax, bx));
  const y1 = Math.max(0, Math.min(ay, by));
  const x2 = Math.min(width, Math.max(ax, bx));
  const y2 = Math.min(height, Math.max(ay, by));
  if (x2 <= x1 || y2 <= y1) return null;
  return { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
}

/** Lines thick enough to see on a large frame, never thinner than 2 px. */
export function lineWidthFor(width: number, height: number): number {
  return Math.max(2, Math.round(Math.min(width, height) / 240));
}

export function labelText(item: OverlayBox): string {
  return `#${item.track_id} ${item.score.toFixed(2)}`;
}

/** The label's background: above the box, or inside its top edge when there is no room above;
 * shifted left so it never leaves the frame on the right. */
export function labelRect(box: Rect, textWidth: number, textHeight: number, frameWidth: number): Rect {
  const w = Math.ceil(textWidth) + 6;
  const h = Math.ceil(textHeight) + 4;
  const y = box.y >= h ? box.y - h : box.y;
  const x = Math.max(0, Math.min(box.x, frameWidth - w));
  return { x, y, w, h };
}

/** Calm people first, so a violent person's red box is drawn on top where boxes overlap. */
export function drawOrder(overlay: readonly OverlayBox[]): OverlayBox[] {
  return [...overlay].sort((a, b) => Number(a.violent) - Number(b.violent));
}

export type OverlayContext = Pick<
  CanvasRenderingContext2D,
  "strokeStyle" | "fillStyle" | "lineWidth" | "font" | "textBaseline" | "strokeRect" | "fillRect" | "fillText" | "measureText"
>;

export function drawOverlay(
  ctx: OverlayContext,
  overlay: readonly OverlayBox[],
  width: number,
  height: number,
): void {
  const line = lineWidthFor(width, height);
  const fontSize = Math.max(12, line * 6);
  ctx.font = `${fontSize}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (const item of drawOrder(overlay)) {
    const rect = clampBox(item.box, width, height);
    if (!rect) continue;
    const color = boxColor(item.violent);
    ctx.lineWidth = line;
    ctx.strokeStyle = color;
    ctx.strokeRect(rect.x, rect.y, rect.w, rect.h);
    const text = labelText(item);
    const label = labelRect(rect, ctx.measureText(text).width, fontSize, width);
    ctx.fillStyle = color;
    ctx.fillRect(label.x, label.y, label.w, label.h);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(text, label.x + 3, label.y + 2);
  }
}
