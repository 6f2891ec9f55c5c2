"""Score person detection on MOT17-mini: precision, recall and AP at IoU 0.5, per sequence.

Ground truth: rows of `gt/gt.txt` with consider=1 and class=1 (pedestrian), on the frames present
in `img1/` only. Detections that overlap (IoU >= 0.5) an unmatched person-like box the benchmark
does not score (person on vehicle, static person, distractor, reflection) are ignored, neither
true nor false, as MOTChallenge's own evaluation does. AP is the area under the all-point
interpolated precision/recall curve (PASCAL VOC 2010+), from a run at a low score threshold;
precision and recall are at the backend's configured threshold. Times are per frame on this
machine, boxes only (the top-down backends' per-person pose is not run).

    python -m services.detect.evaluate [--backend NAME ...] [--yolo-model F [--yolo-config F]]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from services.detect.backends import PersonDetector, create_detector
from services.detect.backends.geometry import iou_matrix
from services.detect.config import DetectConfig, YoloConfig

IOU_THRESHOLD = 0.5
AP_SCORE_FLOOR = 0.05  # detections kept for the AP curve
PEDESTRIAN = 1
IGNORED_CLASSES = frozenset(
    {2, 7, 8, 12}
)  # person on vehicle, static person, distractor, reflection
DATASET = "mot17-mini"


@dataclass(frozen=True)
class Frame:
    image_path: Path
    people: np.ndarray  # (n, 4) x1 y1 x2 y2 scored ground truth
    ignored: np.ndarray  # (m, 4) person-like boxes not scored


@dataclass(frozen=True)
class FrameResult:
    scores: np.ndarray  # every detection's score
    true_positive: np.ndarray  # bool per detection; ignored ones removed
    ground_truth: int


def default_data_dir() -> Path:
    return Path(os.environ.get("VIGIL_DATA_DIR", "../shared/data")).resolve()


def load_sequence(sequence_dir: Path) -> list[Frame]:
    """The frames of one MOT17 sequence that have an image, with their ground truth."""
    rows = np.loadtxt(sequence_dir / "gt" / "gt.txt", delimiter=",", ndmin=2)
    frames = []
    for image_path in sorted((sequence_dir / "img1").glob("*.jpg")):
        number = int(image_path.stem)
        here = rows[rows[:, 0] == number]
        boxes = here[:, 2:6].copy()
        boxes[:, 2:] += boxes[:, :2]  # left, top, width, height -> x1, y1, x2, y2
        scored = (here[:, 6] == 1) & (here[:, 7] == PEDESTRIAN)
        ignored = np.isin(here[:, 7], list(IGNORED_CLASSES))
        frames.append(Frame(image_path, boxes[scored], boxes[ignored]))
    return frames


def match_frame(boxes: np.ndarray, scores: np.ndarray, frame: Frame) -> FrameResult:
    """Greedy matching by descending score, each ground-truth box used once (VOC rule)."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order].reshape(-1, 4), scores[order]
    overlaps = iou_matrix(boxes, frame.people)
    ignore_overlaps = iou_matrix(boxes, frame.ignored)
    used = np.zeros(len(frame.people), bool)
    keep = np.ones(len(boxes), bool)
    true_positive = np.zeros(len(boxes), bool)
    for index in range(len(boxes)):
        candidates = np.where(used, -1.0, overlaps[index]) if len(frame.people) else np.array([])
        if candidates.size and candidates.max() >= IOU_THRESHOLD:
            used[int(candidates.argmax())] = True
            true_positive[index] = True
        elif ignore_overlaps.size and ignore_overlaps[index].max() >= IOU_THRESHOLD:
            keep[index] = False
    return FrameResult(scores[keep], true_positive[keep], len(frame.people))


def average_precision(scores: np.ndarray, true_positive: np.ndarray, ground_truth: int) -> float:
    """All-point interpolated AP: area under the precision envelope over recall."""
    if ground_truth == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = true_positive[order].astype(np.float64)
    cumulative_tp = np.cumsum(hits)
    recall = cumulative_tp / ground_truth
    precision = cumulative_tp / np.arange(1, len(hits) + 1)
    recall = np.concatenate([[0.0], recall, [recall[-1] if len(recall) else 0.0]])
    precision = np.concatenate([[1.0], precision, [0.0]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * envelope[1:]))


def summarize(results: list[FrameResult], threshold: float) -> dict[str, float | int]:
    """Counts at the operating `threshold`, and AP over every kept score."""
    scores = np.concatenate([r.scores for r in results]) if results else np.zeros(0)
    hits = np.concatenate([r.true_positive for r in results]) if results else np.zeros(0, bool)
    ground_truth = sum(r.ground_truth for r in results)
    at_threshold = scores >= threshold
    tp = int(np.sum(hits & at_threshold))
    fp = int(np.sum(~hits & at_threshold))
    return {
        "frames": len(results),
        "ground_truth": ground_truth,
        "true_positives": tp,
        "false_positives": fp,
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / ground_truth if ground_truth else float("nan"),
        "ap50": average_precision(scores, hits, ground_truth),
    }


def evaluate_detector(
    detector: PersonDetector, sequences: Mapping[str, list[Frame]], threshold: float
) -> dict[str, Any]:
    per_sequence: dict[str, Any] = {}
    every: list[FrameResult] = []
    elapsed = 0.0
    for name, frames in sequences.items():
        results = []
        for frame in frames:
            image = cv2.imread(str(frame.image_path))
            if image is None:
                raise FileNotFoundError(f"cannot read {frame.image_path}")
            started = time.perf_counter()
            (people,) = detector.detect([image])
            elapsed += time.perf_counter() - started
            boxes = np.array([p.box for p in people], np.float32).reshape(-1, 4)
            scores = np.array([p.score for p in people], np.float32)
            results.append(match_frame(boxes, scores, frame))
        per_sequence[name] = summarize(results, threshold)
        every.extend(results)
    overall = summarize(every, threshold)
    return {
        "sequences": per_sequence,
        "overall": overall,
        "ms_per_frame": 1000 * elapsed / max(1, len(every)),
    }


def evaluate_detection(
    data_dir: Path | None = None, backends: Mapping[str, DetectConfig] | None = None
) -> dict[str, Any]:
    """Score each named backend configuration on `data_dir/mot17-mini`.

    Each configuration runs once with its score threshold lowered to AP_SCORE_FLOOR (for the AP
    curve); precision and recall are taken at its own `score_threshold`.
    """
    root = (data_dir if data_dir is not None else default_data_dir()) / DATASET
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist: set VIGIL_DATA_DIR")
    sequences = {d.name: load_sequence(d) for d in sorted(root.iterdir()) if (d / "gt").is_dir()}
    configs = backends if backends is not None else default_backends()
    report: dict[str, Any] = {"dataset": str(root), "iou_threshold": IOU_THRESHOLD, "backends": {}}
    for label, config in configs.items():
        floor = min(AP_SCORE_FLOOR, config.score_threshold)
        # boxes are scored, so top-down backends run without their per-person pose model
        detector = create_detector(
            config.model_copy(update={"score_threshold": floor}), with_pose=False
        )
        result = evaluate_detector(detector, sequences, config.score_threshold)
        result["config"] = config.model_dump(mode="json", exclude={"model_dir"})
        report["backends"][label] = result
    return report


def default_backends(
    yolo_model: Path | None = None, yolo_config: Path | None = None
) -> dict[str, DetectConfig]:
    """Every backend at its default settings; YOLO only when a model file is given."""
    configs = {
        "movenet_multipose": DetectConfig(backend="movenet_multipose"),
        "centernet_movenet": DetectConfig(backend="centernet_movenet"),
    }
    if yolo_model is not None:
        configs["yolo"] = DetectConfig(
            backend="yolo", yolo=YoloConfig(model=yolo_model, config=yolo_config)
        )
    return configs


def _percent(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{100 * value:.1f}"


def format_markdown(result: Mapping[str, Any]) -> str:
    """One table: a row per backend and sequence, then the backend's overall row."""
    lines = [
        f"Person detection on {DATASET} (IoU {result['iou_threshold']}; P and R at each backend's"
        " score threshold; AP50 over all scores; percentages).",
        "",
        "| backend | sequence | frames | people | P | R | AP50 | ms/frame |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, backend in result["backends"].items():
        rows = [*backend["sequences"].items(), ("**overall**", backend["overall"])]
        for sequence, scores in rows:
            timing = f"{backend['ms_per_frame']:.0f}" if sequence == "**overall**" else ""
            lines.append(
                f"| {label} | {sequence} | {scores['frames']} | {scores['ground_truth']} | "
                f"{_percent(scores['precision'])} | {_percent(scores['recall'])} | "
                f"{_percent(scores['ap50'])} | {timing} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--backend", action="append", default=None)
    parser.add_argument("--yolo-model", type=Path, default=None)
    parser.add_argument("--yolo-config", type=Path, default=None)
    args = parser.parse_args(argv)
    configs = default_backends(args.yolo_model, args.yolo_config)
    if args.backend:
        configs = {name: configs[name] for name in args.backend}
    print(format_markdown(evaluate_detection(args.data_dir, configs)), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
