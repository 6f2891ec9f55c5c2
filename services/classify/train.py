"""`vigil train`: labelled clips -> tracks (cached) -> person windows -> grouped CV -> model.

Every clip goes through the real pipeline (ingest, detect, track: `extract.py`), then through the
same `CameraHistory` the service uses (`scoring.replay_windows`), so the model learns from the
windows it will judge live. Only clips are labelled; per-person labels come from multiple-instance
learning (`model.py`): a clip is a bag of its person windows and is violent when one is.

A clip's score is the event rule's (`events.opening_score`): the highest threshold at which the
service would open an event on the clip, so a clip scores >= `on_threshold` exactly when
`vigil analyze` would report an event. The max over the clip's windows is reported beside it.
Each fold chooses its decision threshold on its inner validation clips and its scores are
shifted so that the threshold sits at 0.5; the final model's output bias gets the same shift
(the median of the folds' thresholds), so the service's `on_threshold` of 0.5 means it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from services.classify.config import ClassifyConfig
from services.classify.dataset import LabelledClip, VideoMeta
from services.classify.events import opening_score
from services.classify.extract import Extraction
from services.classify.features import COLS_KP_XY, FEATURE_DIM, FEATURE_VERSION
from services.classify.scoring import ClipWindows, replay_windows
from services.classify.timing import (
    EventRule,
    calm_stream_events,
    compose_streams,
    timing_report,
)
from services.classify.training import (
    BinaryMetrics,
    ClipScorer,
    CrossValidation,
    TrainParams,
    binary_metrics,
    bootstrap_ci,
    clip_scores_from_windows,
    cross_validate,
    fit_person_model,
    grouped_kfold,
    metadata_baseline_scores,
    metadata_features,
    plot_confusion_matrix,
    plot_roc_curves,
    roc_curve,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def recipe(seed: int = 0) -> TrainParams:
    """How the shipped model is trained (the choices are measured in docs/model-card.md):
    multiple-instance learning, Adam at 1e-3 with early stopping, mirrored clips added, and the
    raw keypoint coordinates (columns 1-34) left out: on CCTV poses they are noise that the
    grouped CV punished, while their velocities and the derived columns carry the motion."""
    return TrainParams(
        learning_rate=1e-3, seed=seed, mirror=True,
        ignore_columns=tuple(range(COLS_KP_XY.start, COLS_KP_XY.stop)),
    )


@dataclass(frozen=True)
class ClipFeatures:
    clip: LabelledClip
    windows: ClipWindows
    n_frames: int
    meta: VideoMeta


@dataclass(frozen=True)
class WindowSet:
    """All clips' windows stacked, as the training utilities take them."""

    x: np.ndarray  # (n_windows, window, FEATURE_DIM)
    window_clip: np.ndarray  # (n_windows,) clip index
    window_frame: np.ndarray  # (n_windows,) frame index within its clip
    labels: np.ndarray  # (n_clips,)
    groups: np.ndarray  # (n_clips,)
    n_frames: np.ndarray  # (n_clips,)
    meta: np.ndarray  # (n_clips, 4) metadata-baseline inputs


def clip_features(
    clips: Sequence[LabelledClip], extraction: Extraction, config: ClassifyConfig
) -> list[ClipFeatures]:
    """Windows of every clip that has tracks (unreadable clips are in extraction.errors)."""
    out = []
    for clip in clips:
        tracks = extraction.tracks.get(clip.path)
        if tracks is None:
            continue
        frames = tracks.frames()
        windows = replay_windows(frames, config.window, config.rate_hz, config.min_present_steps)
        out.append(ClipFeatures(clip, windows, len(frames), tracks.meta))
    return out


def stack(features: Sequence[ClipFeatures]) -> WindowSet:
    window = features[0].windows.x.shape[1] if features else 1
    xs = [f.windows.x for f in features]
    return WindowSet(
        x=np.concatenate(xs) if xs else np.zeros((0, window, FEATURE_DIM), np.float32),
        window_clip=np.concatenate(
            [np.full(len(f.windows.x), i, np.int64) for i, f in enumerate(features)]
        ) if xs else np.zeros(0, np.int64),
        window_frame=np.concatenate([f.windows.frame for f in features])
        if xs else np.zeros(0, np.int64),
        labels=np.array([f.clip.label for f in features], np.int64),
        groups=np.array([f.clip.group for f in features]),
        n_frames=np.array([f.n_frames for f in features], np.int64),
        meta=metadata_features(
            np.array([f.meta.width for f in features]), np.array([f.meta.height for f in features]),
            np.array([f.meta.fps for f in features]),
            np.array([f.meta.duration_s for f in features]),
        ) if xs else np.zeros((0, 4)),
    )


def frame_peaks(window_scores: np.ndarray, window_frame: np.ndarray, n_frames: int) -> np.ndarray:
    """Per frame, the highest score of its people (0 where nobody was scored)."""
    peaks = np.zeros(n_frames)
    np.maximum.at(peaks, window_frame, window_scores)
    return peaks


def event_clip_scores(
    window_scores: np.ndarray, data: WindowSet, config: ClassifyConfig
) -> np.ndarray:
    """The event rule's score of every clip (see the module docstring)."""
    out = np.zeros(len(data.labels))
    for clip in range(len(data.labels)):
        mine = data.window_clip == clip
        peaks = frame_peaks(window_scores[mine], data.window_frame[mine], int(data.n_frames[clip]))
        out[clip] = opening_score(peaks, config.k, config.n)
    return out


@dataclass
class Scored:
    metrics: BinaryMetrics
    ci95: dict[str, tuple[float, float]]

    def as_dict(self) -> dict[str, Any]:
        return {**self.metrics.as_dict(), "ci95": {k: list(v) for k, v in self.ci95.items()}}


def score(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, threshold: float, seed: int
) -> Scored:
    """Metrics with 95% cluster-bootstrap intervals (whole source groups resampled)."""
    return Scored(binary_metrics(labels, scores, threshold),
                  bootstrap_ci(labels, scores, groups, threshold=threshold, seed=seed))


@dataclass
class TrainingRun:
    report: dict[str, Any]
    cv: CrossValidation | None = None
    clip_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    baseline_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))


def event_scorer(data: WindowSet, config: ClassifyConfig) -> ClipScorer:
    """Clip scores by the event rule, for cross-validation (window scores -> clip scores)."""

    def score(window_scores: np.ndarray, clips: np.ndarray) -> np.ndarray:
        out = np.zeros(len(clips))
        for i, clip in enumerate(clips):
            mine = data.window_clip == clip
            peaks = frame_peaks(window_scores[mine], data.window_frame[mine],
                                int(data.n_frames[clip]))
            out[i] = opening_score(peaks, config.k, config.n)
        return out

    return score


def run_cv(
    data: WindowSet,
    config: ClassifyConfig,
    params: TrainParams,
    folds: int,
    progress: Progress | None = None,
    tune_threshold: bool = True,
) -> tuple[CrossValidation, np.ndarray, np.ndarray]:
    """Grouped k-fold CV; returns it, the event-rule clip scores and the window-max scores
    (both with each fold's threshold moved to 0.5)."""
    cv = cross_validate(
        data.x, data.window_clip, data.labels, data.groups, folds, params,
        progress=None if progress is None else (lambda d, t: progress("cross-validation", d, t)),
        clip_scorer=event_scorer(data, config), tune_threshold=tune_threshold,
    )
    max_scores = clip_scores_from_windows(cv.window_scores, data.window_clip, len(data.labels))
    return cv, cv.clip_scores, max_scores


def train_and_report(
    features: Sequence[ClipFeatures],
    config: ClassifyConfig,
    params: TrainParams,
    folds: int,
    out: Path,
    report_dir: Path,
    context: dict[str, Any],
    progress: Progress | None = None,
    frame_rate: float = 10.0,
    seed_spread: int = 0,
) -> TrainingRun:
    """CV with the metadata baseline on the same folds, plots, then the final model on all clips
    for the median of the folds' best epoch counts; writes `out` and `report_dir/train.json`.
    `seed_spread` more model seeds are cross-validated on the same folds, to report how much the
    seed alone moves the scores."""
    from services.classify.model import (
        quantize_for_shipping,
        save_model,
        shift_decision_threshold,
    )

    data = stack(features)
    if len(np.unique(data.labels)) < 2:
        raise ValueError("training needs clips of both classes")
    n_groups = len(np.unique(data.groups))
    folds = min(folds, n_groups)
    cv, event_scores, max_scores = run_cv(data, config, params, folds, progress)
    split = grouped_kfold(data.groups, folds, data.labels, params.seed)
    baseline = metadata_baseline_scores(data.meta, data.labels, split, kind="tree")
    baseline_lr = metadata_baseline_scores(data.meta, data.labels, split, kind="logistic")
    threshold = config.on_threshold
    model_scored = score(data.labels, event_scores, data.groups, threshold, params.seed)
    max_scored = score(data.labels, max_scores, data.groups, threshold, params.seed)
    base_scored = score(data.labels, baseline, data.groups, 0.5, params.seed)
    base_lr_scored = score(data.labels, baseline_lr, data.groups, 0.5, params.seed)

    timing = timing_study(cv.window_scores, data, config, frame_rate, params.seed)
    spread = [(params.seed, model_scored.metrics)]
    for extra in range(1, seed_spread + 1):
        other = replace(params, seed=params.seed + extra, fold_seed=params.seed)
        seed_progress = None if progress is None else (
            lambda _, done, total, seed=other.seed: progress(f"cv, model seed {seed}", done, total))
        _, other_scores, _ = run_cv(data, config, other, folds, seed_progress)
        spread.append((other.seed, binary_metrics(data.labels, other_scores, threshold)))

    report_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion_matrix(np.array(model_scored.metrics.confusion),
                          report_dir / "confusion_matrix.png")
    curves = [
        ("model", *roc_curve(data.labels, event_scores), model_scored.metrics.roc_auc),
        ("metadata tree", *roc_curve(data.labels, baseline), base_scored.metrics.roc_auc),
        ("metadata logistic", *roc_curve(data.labels, baseline_lr),
         base_lr_scored.metrics.roc_auc),
    ]
    plot_roc_curves(curves, report_dir / "roc.png")

    final_epochs = max(1, int(np.median(cv.best_epochs)))
    final_threshold = float(np.median(cv.thresholds))
    if progress is not None:
        progress("final model", 0, 1)
    final_params = TrainParams(**{**asdict(params), "epochs": final_epochs})
    model, _ = fit_person_model(data.x, data.window_clip, data.labels,
                                np.arange(len(data.labels)), None, final_params)
    shift_decision_threshold(model, final_threshold)
    quantize_for_shipping(model)
    save_model(model, out)
    if progress is not None:
        progress("final model", 1, 1)

    report: dict[str, Any] = {
        **context,
        "features": {"feature_version": FEATURE_VERSION, "feature_dim": FEATURE_DIM,
                     "window": config.window, "rate_hz": config.rate_hz,
                     "min_present_steps": config.min_present_steps},
        "event_rule": {"on_threshold": threshold, "k": config.k, "n": config.n},
        "params": asdict(params),
        "data": {"clips": len(data.labels), "fight": int(data.labels.sum()),
                 "no_fight": int((data.labels == 0).sum()), "groups": n_groups,
                 "windows": len(data.x)},
        "cross_validation": {
            "folds": folds, "grouped": bool(n_groups < len(data.labels)),
            "best_epochs": list(cv.best_epochs),
            "fold_thresholds": list(cv.thresholds),
            "model": model_scored.as_dict(),
            "model_window_max": max_scored.as_dict(),
            "metadata_baseline_tree": base_scored.as_dict(),
            "metadata_baseline_logistic": base_lr_scored.as_dict(),
            "seed_spread": {
                "seeds": [seed for seed, _ in spread],
                "accuracy": [round(m.accuracy, 4) for _, m in spread],
                "roc_auc": [round(m.roc_auc, 4) for _, m in spread],
            },
        },
        "timing": timing,
        "final_model": {"path": str(out), "epochs": final_epochs,
                        "threshold_moved_to_0.5": final_threshold,
                        "bytes": out.stat().st_size,
                        # The .keras file records when it was saved; the weights do not.
                        "weights_sha256": weights_digest(model)},
        "clips": [
            {"clip": f.clip.relative, "label": int(f.clip.label), "group": f.clip.group,
             "fold": int(cv.clip_fold[i]), "score": _round(event_scores[i]),
             "window_max": _round(max_scores[i]), "baseline": _round(baseline[i]),
             "windows": len(f.windows.x), "frames": f.n_frames}
            for i, f in enumerate(features)
        ],
    }
    (report_dir / "train.json").write_text(json.dumps(report, indent=2) + "\n")
    return TrainingRun(report, cv, event_scores, baseline)


def timing_study(
    window_scores: np.ndarray, data: WindowSet, config: ClassifyConfig, frame_rate: float,
    seed: int,
) -> dict[str, Any]:
    """Event timing on composed no-fight/fight/no-fight streams, from out-of-fold scores
    (`timing.py`); also the events of all no-fight clips played as one stream, per hour."""
    peaks = [
        frame_peaks(window_scores[data.window_clip == c], data.window_frame[data.window_clip == c],
                    int(data.n_frames[c]))
        for c in range(len(data.labels))
    ]
    rule = EventRule(config.on_threshold, config.k, config.n, config.quiet_seconds,
                     config.off_threshold)
    fights = [p for p, label in zip(peaks, data.labels, strict=True) if label == 1]
    calm = [p for p, label in zip(peaks, data.labels, strict=True) if label == 0]
    report = timing_report(compose_streams(fights, calm, frame_rate, rule, seed), frame_rate, rule)
    report["no_fight_stream"] = calm_stream_events(calm, frame_rate, rule, seed)
    return report


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 5)


def weights_digest(model: Any) -> str:
    """SHA-256 of every weight array, in order: equal for equal models, whenever saved."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()
