// Draws each frame with its own overlay, newest first: while one JPEG decodes, a newer frame
// replaces the waiting one instead of queueing, so a slow screen shows fewer frames, never old ones.
import type { LiveFrameMessage } from "../types";
import { drawOverlay } from "./geometry";

export function makeFrameRenderer(
  getCanvas: () => HTMLCanvasElement | null,
  onDrawn: (frame: LiveFrameMessage) => void,
): { push: (frame: LiveFrameMessage) => void; stop: () => void } {
  let stopped = false;
  let drawing = false;
  let waiting: LiveFrameMessage | null = null;

  const draw = async (frame: LiveFrameMessage) => {
    drawing = true;
    try {
      const image = new Image();
      image.src = `data:image/jpeg;base64,${frame.jpeg_b64}`;
      await image.decode();
      const canvas = getCanvas();
      const ctx = canvas?.getContext("2d");
      if (canvas && ctx && !stopped) {
        if (canvas.width !== frame.width) canvas.width = frame.width;
        if (canvas.height !== frame.height) canvas.height = frame.height;
        ctx.drawImage(image, 0, 0, frame.width, frame.height);
        drawOverlay(ctx, frame.overlay, frame.width, frame.height);
        onDrawn(frame);
      }
    } catch {
      // A JPEG that does not decode is skipped; the next frame comes soon.
    } finally {
      drawing = false;
    }
    const next = waiting;
    waiting = null;
    if (next && !stopped) void draw(next);
  };

  return {
    push: (frame) => {
      if (stopped) return;
      if (drawing) waiting = frame;
      else void draw(frame);
    },
    stop: () => {
      stopped = true;
      waiting = null;
    },
  };
}
