"""`vigil evaluate`: the shipped model on a folder of labelled clips, scored like the service.

Each clip's tracks come from the real pipeline (or the track cache, which holds exactly that),
then go through the classify service itself over an in-process bus (`ClassifyReplay`). A clip's
score is the event rule's opening score over its verdicts (`events.opening_score`), so its
prediction (score >= on_threshold) is whether the service opened an event on it. A clip that
cannot be decoded is skipped with its reason and the rest are scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.classify.config import ClassifyConfig
from services.classify.dataset import LabelledClip, discover_clips
from services.classify.events import opening_score
from services.classify.extract import PipelineConfigs, extract_tracks
from services.classify.features import FEATURE_VERSION
from services.classify.pipeline import ClassifyReplay
from services.classify.training import binary_metrics
from vigil.v1.events_pb2 import EventKind
from vigil.v1.verdicts_pb2 import Verdicts

ClipDone = Callable[[Path, bool], None]


def verdict_peaks(verdicts: Sequence[Verdicts]) -> np.ndarray:
    """Per frame (in frame order), the highest person score; 0 for a frame with nobody."""
    ordered = sorted(verdicts, key=lambda v: v.frame.frame_index)
    return np.array([max((p.score for p in v.people), default=0.0) for v in ordered])


@dataclass(frozen=True)
class ClipResult:
    clip: LabelledClip
    score: float
    prediction: int
    events: int
    frames: int


async def evaluate_folder(
    folder: Path,
    config: ClassifyConfig,
    cache_root: Path,
    pipeline: PipelineConfigs | None = None,
    on_clip: ClipDone | None = None,
) -> dict[str, Any]:
    """The evaluation report (see `vigil evaluate --help`); skipped clips are listed in it."""
    from services.classify.service import load_classifier

    model = load_classifier(config)  # fail before hours of detection, not after
    clips = discover_clips(folder)
    extraction = await extract_tracks([c.path for c in clips], cache_root, pipeline, on_clip)
    results: list[ClipResult] = []
    async with ClassifyReplay(config, model) as replay:
        for clip in clips:
            tracks = extraction.tracks.get(clip.path)
            if tracks is None:
                continue
            verdicts, events = await replay.run(tracks.tracks())
            score = opening_score(verdict_peaks(verdicts), config.k, config.n)
            opened = sum(e.kind == EventKind.EVENT_KIND_OPENED for e in events)
            results.append(ClipResult(clip, score, int(score >= config.on_threshold), opened,
                                      len(verdicts)))
    return report(folder, config, results, extraction.errors)


def report(
    folder: Path, config: ClassifyConfig, results: Sequence[ClipResult],
    errors: dict[Path, str],
) -> dict[str, Any]:
    labels = np.array([r.clip.label for r in results], dtype=np.int64)
    scores = np.array([r.score for r in results], dtype=np.float64)
    metrics = binary_metrics(labels, scores, config.on_threshold).as_dict() if results else {
        "accuracy": None, "precision": None, "recall": None, "f1": None, "roc_auc": None,
        "confusion_matrix": None, "n": 0}
    auc = metrics.get("roc_auc")
    if isinstance(auc, float) and np.isnan(auc):
        metrics["roc_auc"] = None  # one class only: undefined, and NaN is not JSON
    return {
        "folder": str(folder),
        **metrics,
        "threshold": config.on_threshold,
        "event_rule": {"k": config.k, "n": config.n},
        "model": str(config.model_path),
        "feature_version": FEATURE_VERSION,
        "skipped": [{"path": str(path), "reason": reason} for path, reason in errors.items()],
        "clips": [
            {"path": str(r.clip.path), "label": r.clip.label, "score": round(r.score, 5),
             "prediction": r.prediction, "events": r.events, "frames": r.frames}
            for r in results
        ],
    }


def summary(report: dict[str, Any]) -> str:
    if not report["n"]:
        return f"no clip could be scored ({len(report['skipped'])} skipped)"
    auc = "n/a" if report["roc_auc"] is None else f"{report['roc_auc']:.3f}"
    lines = [
        f"clips scored: {report['n']}, skipped: {len(report['skipped'])}",
        f"accuracy {report['accuracy']:.3f}  precision {report['precision']:.3f}  "
        f"recall {report['recall']:.3f}  f1 {report['f1']:.3f}  roc_auc {auc}",
    ]
    (tn, fp), (fn, tp) = report["confusion_matrix"]
    lines.append(f"confusion [[tn {tn}, fp {fp}], [fn {fn}, tp {tp}]]")
    return "\n".join(lines)
