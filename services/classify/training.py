"""Training and evaluation utilities over arrays (no video, no files except the PNG plots).

The data model: `x` holds person windows (n_windows, window, FEATURE_DIM); `window_clip[i]` is
the clip index of window i; `clip_labels` (n_clips,) are 0/1 (1 = fight); `groups` (n_clips,)
name each clip's source video. Splits are always by group (`grouped_kfold`), so no source video
is on both sides. Per-person labels come from clip labels as the model module describes
(`mode="inherit"` or `mode="mil"`); clip scores are the max over the clip's window scores.

Everything takes a seed; `set_global_seed` also makes TensorFlow's kernels deterministic, so the
same seed and data give the same weights and scores.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import keras
import numpy as np
import tensorflow as tf

from services.classify.features import mirror_features
from services.classify.model import (
    Aggregation,
    build_bag_model,
    build_model,
    clip_score,
    predict_windows,
    standardisation_stats,
)

Split = tuple[np.ndarray, np.ndarray]
IGNORED_VARIANCE = 1e12  # values up to ~1e3 become < 1e-3 after standardisation


def set_global_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- splits


def grouped_kfold(
    groups: Sequence[str] | np.ndarray,
    n_splits: int,
    labels: Sequence[int] | np.ndarray | None = None,
    seed: int = 0,
) -> list[Split]:
    """Deterministic grouped k-fold: (train_idx, val_idx) pairs over the samples.

    Every group lands in exactly one validation fold. Groups are placed largest first (ties in a
    seeded random order) into the fold that keeps per-class counts most even, so folds are
    balanced in size and, when labels are given, in class mix (like a stratified group k-fold).
    """
    groups_arr = np.asarray(groups)
    unique = np.unique(groups_arr)
    if not 2 <= n_splits <= len(unique):
        raise ValueError(f"need 2 <= n_splits <= {len(unique)} groups, got {n_splits}")
    label_arr = np.zeros(len(groups_arr), dtype=np.int64) if labels is None else np.asarray(labels)
    classes = np.unique(label_arr)
    counts = np.array(
        [[np.sum((groups_arr == g) & (label_arr == c)) for c in classes] for g in unique]
    )
    rng = np.random.default_rng(seed)
    order = sorted(range(len(unique)), key=lambda i: (-counts[i].sum(), rng.random()))
    fold_counts = np.zeros((n_splits, len(classes)))
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    for g in order:
        # Put the group where the folds' per-class counts end up most even (least variance).
        costs = []
        for f in range(n_splits):
            trial = fold_counts.copy()
            trial[f] += counts[g]
            costs.append((trial.var(axis=0).sum(), trial[f].sum(), f))
        best = min(costs)[2]
        fold_counts[best] += counts[g]
        fold_of_group[g] = best
    sample_fold = fold_of_group[np.searchsorted(unique, groups_arr)]
    return [
        (np.flatnonzero(sample_fold != f), np.flatnonzero(sample_fold == f))
        for f in range(n_splits)
    ]


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class BinaryMetrics:
    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float
    confusion: tuple[tuple[int, int], tuple[int, int]]  # [[tn, fp], [fn, tp]]
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "roc_auc": self.roc_auc,
            "confusion_matrix": [list(row) for row in self.confusion],
            "n": self.n,
        }


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """[[tn, fp], [fn, tp]] for 0/1 labels."""
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    return np.array(
        [
            [np.sum(~y_true & ~y_pred), np.sum(~y_true & y_pred)],
            [np.sum(y_true & ~y_pred), np.sum(y_true & y_pred)],
        ]
    )


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN if a class is missing."""
    y_true = np.asarray(y_true).astype(bool)
    y_score = np.asarray(y_score, dtype=np.float64)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(y_score, kind="mergesort")
    ranks = np.empty(len(y_score))
    sorted_scores = y_score[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    y_true = np.asarray(y_true).astype(bool)
    y_score = np.asarray(y_score, dtype=np.float64)
    thresholds = np.unique(y_score)[::-1]
    n_pos, n_neg = max(int(y_true.sum()), 1), max(int((~y_true).sum()), 1)
    tpr = [0.0] + [float(np.sum(y_true & (y_score >= t))) / n_pos for t in thresholds]
    fpr = [0.0] + [float(np.sum(~y_true & (y_score >= t))) / n_neg for t in thresholds]
    return np.array(fpr), np.array(tpr)


def binary_metrics(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float = 0.5
) -> BinaryMetrics:
    """Accuracy, precision, recall, F1 (0 where undefined), ROC AUC and the confusion matrix."""
    y_true = np.asarray(y_true).astype(int)
    y_score = np.asarray(y_score, dtype=np.float64)
    cm = confusion_matrix(y_true, y_score >= threshold)
    (tn, fp), (fn, tp) = cm.tolist()
    n = len(y_true)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BinaryMetrics(
        accuracy=(tp + tn) / n if n else math.nan,
        precision=precision,
        recall=recall,
        f1=f1,
        roc_auc=roc_auc(y_true, y_score),
        confusion=((tn, fp), (fn, tp)),
        n=n,
    )


def bootstrap_ci(
    y_true: np.ndarray,
    y_score: np.ndarray,
    groups: Sequence[str] | np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    threshold: float = 0.5,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of every scalar metric.

    With `groups`, whole groups are resampled (a cluster bootstrap): clips of one source video
    are not independent, and resampling them one by one would give too narrow an interval.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    group_arr = np.arange(len(y_true)) if groups is None else np.asarray(groups)
    unique, inverse = np.unique(group_arr, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(unique))]
    rng = np.random.default_rng(seed)
    names = ("accuracy", "precision", "recall", "f1", "roc_auc")
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(n_boot):
        picked = rng.integers(0, len(unique), size=len(unique))
        idx = np.concatenate([members[g] for g in picked])
        m = binary_metrics(y_true[idx], y_score[idx], threshold)
        for name in names:
            samples[name].append(getattr(m, name))
    tail = (1.0 - level) / 2 * 100
    out = {}
    for name in names:
        values = np.asarray(samples[name])
        values = values[~np.isnan(values)]
        if len(values) == 0:
            out[name] = (math.nan, math.nan)
        else:
            low, high = np.percentile(values, [tail, 100 - tail])
            out[name] = (float(low), float(high))
    return out


# --------------------------------------------------------------------------- metadata baseline


def metadata_features(
    width: np.ndarray, height: np.ndarray, fps: np.ndarray, duration_s: np.ndarray
) -> np.ndarray:
    """(n, 4): log2 width, log2 height, fps, duration: what a shortcut learner would use."""
    return np.stack(
        [
            np.log2(np.asarray(width, dtype=np.float64)),
            np.log2(np.asarray(height, dtype=np.float64)),
            np.asarray(fps, dtype=np.float64),
            np.asarray(duration_s, dtype=np.float64),
        ],
        axis=1,
    )


@dataclass
class LogisticRegression:
    """L2-regularised logistic regression fitted by Newton's method on standardised inputs."""

    l2: float = 1.0
    iterations: int = 50
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogisticRegression:
        self.mean = x.mean(axis=0)
        self.scale = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        z = np.hstack([np.ones((len(x), 1)), (x - self.mean) / self.scale])
        w = np.zeros(z.shape[1])
        penalty = np.eye(z.shape[1]) * self.l2
        penalty[0, 0] = 0.0  # no penalty on the intercept
        for _ in range(self.iterations):
            p = 1.0 / (1.0 + np.exp(-z @ w))
            gradient = z.T @ (p - y) + penalty @ w
            hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
            step = np.linalg.solve(hessian + 1e-9 * np.eye(len(w)), gradient)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        self.weights = w
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = np.hstack([np.ones((len(x), 1)), (x - self.mean) / self.scale])
        return 1.0 / (1.0 + np.exp(-z @ self.weights))


@dataclass
class DecisionTree:
    """A small CART (Gini, axis-aligned splits); leaves give the training positive rate."""

    max_depth: int = 3
    min_leaf: int = 5
    nodes: list[tuple[int, float, int, int, float]] = field(default_factory=list)

    def fit(self, x: np.ndarray, y: np.ndarray) -> DecisionTree:
        self.nodes = []
        self._grow(x, np.asarray(y, dtype=np.float64), 0)
        return self

    def _grow(self, x: np.ndarray, y: np.ndarray, depth: int) -> int:
        node = len(self.nodes)
        self.nodes.append((-1, 0.0, -1, -1, float(y.mean()) if len(y) else 0.5))
        best = self._best_split(x, y) if depth < self.max_depth else None
        if best is not None:
            feature, threshold = best
            left = x[:, feature] <= threshold
            left_node = self._grow(x[left], y[left], depth + 1)
            right_node = self._grow(x[~left], y[~left], depth + 1)
            self.nodes[node] = (feature, threshold, left_node, right_node, self.nodes[node][4])
        return node

    def _best_split(self, x: np.ndarray, y: np.ndarray) -> tuple[int, float] | None:
        def gini(labels: np.ndarray) -> float:
            p = labels.mean()
            return float(2 * p * (1 - p) * len(labels))

        best: tuple[float, int, float] | None = None
        parent = gini(y)
        for feature in range(x.shape[1]):
            values = np.unique(x[:, feature])
            for low, high in itertools.pairwise(values):
                threshold = (low + high) / 2
                left = x[:, feature] <= threshold
                if min(left.sum(), (~left).sum()) < self.min_leaf:
                    continue
                impurity = gini(y[left]) + gini(y[~left])
                if impurity < parent - 1e-12 and (best is None or impurity < best[0]):
                    best = (impurity, feature, float(threshold))
        return None if best is None else (best[1], best[2])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(len(x))
        for i, row in enumerate(x):
            node = 0
            while self.nodes[node][0] >= 0:
                feature, threshold, left, right, _ = self.nodes[node]
                node = left if row[feature] <= threshold else right
            out[i] = self.nodes[node][4]
        return out


BaselineKind = Literal["logistic", "tree"]


def metadata_baseline_scores(
    meta: np.ndarray, labels: np.ndarray, folds: Sequence[Split], kind: BaselineKind = "tree"
) -> np.ndarray:
    """Out-of-fold scores of a metadata-only classifier, on the same folds as the model."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.full(len(labels), np.nan)
    for train, val in folds:
        model: LogisticRegression | DecisionTree = (
            LogisticRegression() if kind == "logistic" else DecisionTree()
        )
        model.fit(meta[train], labels[train])
        scores[val] = model.predict_proba(meta[val])
    return scores


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-4
    patience: int = 8
    lstm_units: int = 64
    dropout: float = 0.3
    seed: int = 0
    # The seed of the cross-validation folds and inner splits; None: `seed`. Set apart from it,
    # the same folds are trained with other model seeds (initial weights, dropout, shuffling).
    fold_seed: int | None = None
    mode: Literal["inherit", "mil"] = "mil"
    aggregation: Aggregation = "max"
    bag_size: int = 32
    inner_val_splits: int = 5  # one of these grouped folds of the training clips stops early
    mirror: bool = False  # add every training clip mirrored (x -> -x, left <-> right)
    # Feature columns the model must not use: the standardisation scales them to ~0 (variance
    # IGNORED_VARIANCE), so the input shape, and the service, stay the same.
    ignore_columns: tuple[int, ...] = ()
    verbose: int = 0


def clip_scores_from_windows(
    window_scores: np.ndarray,
    window_clip: np.ndarray,
    n_clips: int,
    method: Aggregation = "max",
) -> np.ndarray:
    """Per-clip score from per-window scores; a clip with no windows (nobody seen) scores 0."""
    out = np.zeros(n_clips)
    for clip in range(n_clips):
        out[clip] = clip_score(window_scores[window_clip == clip], method)
    return out


def make_bags(
    x: np.ndarray, window_clip: np.ndarray, clips: np.ndarray, bag_size: int
) -> np.ndarray:
    """(len(clips), bag_size, window, F): each clip's windows, zero-padded; a clip with more
    windows than bag_size keeps an evenly spaced subset (deterministic)."""
    bags = np.zeros((len(clips), bag_size, *x.shape[1:]), dtype=np.float32)
    for row, clip in enumerate(clips):
        idx = np.flatnonzero(window_clip == clip)
        if len(idx) > bag_size:
            idx = idx[np.linspace(0, len(idx) - 1, bag_size).round().astype(int)]
        bags[row, : len(idx)] = x[idx]
    return bags


class ClipValidation(keras.callbacks.Callback):
    """Adds `val_clip_loss` and `val_clip_auc` (clip level, max over windows) to the epoch logs,
    so early stopping watches the quantity that is reported, not a window-level proxy."""

    def __init__(
        self,
        person_model: keras.Model,
        x: np.ndarray,
        window_clip: np.ndarray,
        clip_labels: np.ndarray,
        method: Aggregation,
    ) -> None:
        super().__init__()
        self.person_model = person_model
        self.x = x
        self.window_clip = window_clip
        self.clip_labels = clip_labels
        self.method = method

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        scores = clip_scores_from_windows(
            predict_windows(self.person_model, self.x),
            self.window_clip,
            len(self.clip_labels),
            self.method,
        )
        p = np.clip(scores, 1e-6, 1 - 1e-6)
        y = self.clip_labels
        loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        if logs is not None:
            logs["val_clip_loss"] = loss
            logs["val_clip_auc"] = roc_auc(y, scores)


def _subset(
    x: np.ndarray, window_clip: np.ndarray, clips: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of the given clips, with clip indices renumbered 0..len(clips)-1."""
    position = {int(c): i for i, c in enumerate(clips)}
    keep = np.isin(window_clip, clips)
    return x[keep], np.array([position[int(c)] for c in window_clip[keep]], dtype=np.int64)


def fit_person_model(
    x: np.ndarray,
    window_clip: np.ndarray,
    clip_labels: np.ndarray,
    train_clips: np.ndarray,
    val_clips: np.ndarray | None,
    params: TrainParams,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train the person model on `train_clips`; with `val_clips`, stop early on their clip loss
    and keep the best epoch's weights. Returns the model and the per-epoch history."""
    set_global_seed(params.seed)
    clip_labels = np.asarray(clip_labels, dtype=np.float32)
    x_train, wc_train = _subset(x, window_clip, train_clips)
    train_labels = clip_labels[train_clips]
    if params.mirror:
        # Mirrored copies are clips of their own (bags of their own in MIL).
        x_train = np.concatenate([x_train, mirror_features(x_train)])
        wc_train = np.concatenate([wc_train, wc_train + len(train_clips)])
        train_labels = np.concatenate([train_labels, train_labels])
    n_train = len(train_labels)
    mean, variance = standardisation_stats(x_train)
    if params.ignore_columns:
        ignored = list(params.ignore_columns)
        mean[ignored], variance[ignored] = 0.0, IGNORED_VARIANCE
    model = build_model(
        x.shape[2], x.shape[1], params.lstm_units, params.seed, params.dropout, mean, variance
    )
    callbacks: list[keras.callbacks.Callback] = []
    if val_clips is not None and len(val_clips):
        x_val, wc_val = _subset(x, window_clip, val_clips)
        callbacks = [
            ClipValidation(model, x_val, wc_val, clip_labels[val_clips], params.aggregation),
            keras.callbacks.EarlyStopping(
                monitor="val_clip_loss",
                patience=params.patience,
                restore_best_weights=True,
                mode="min",
            ),
        ]
    optimizer = keras.optimizers.Adam(learning_rate=params.learning_rate)
    if params.mode == "mil":
        bags = make_bags(x_train, wc_train, np.arange(n_train), params.bag_size)
        trainable = build_bag_model(model, params.bag_size, params.aggregation)
        # No XLA: on CPU its compile time outweighs the small model's run time.
        trainable.compile(optimizer=optimizer, loss="binary_crossentropy", jit_compile=False)
        history = trainable.fit(
            bags,
            train_labels,
            epochs=params.epochs,
            batch_size=params.batch_size,
            shuffle=True,
            callbacks=callbacks,
            verbose=params.verbose,
        )
    else:
        # Every clip weighs the same however many windows it has.
        per_clip = np.bincount(wc_train, minlength=n_train).astype(np.float64)
        weights = 1.0 / per_clip[wc_train]
        weights *= len(weights) / weights.sum()
        model.compile(
            optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=False
        )
        history = model.fit(
            x_train,
            train_labels[wc_train].astype(np.int64),
            sample_weight=weights,
            epochs=params.epochs,
            batch_size=params.batch_size,
            shuffle=True,
            callbacks=callbacks,
            verbose=params.verbose,
        )
    return model, {k: [float(v) for v in vs] for k, vs in history.history.items()}


def shift_scores(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Move the decision threshold to 0.5: sigmoid(logit(s) - logit(threshold)). Monotone, so
    rankings (ROC AUC) and every max/k-th-largest rule commute with it; the shipped model gets
    the same shift in its output bias (`model.shift_decision_threshold`)."""
    s = np.clip(np.asarray(scores, dtype=np.float64), 1e-7, 1 - 1e-7)
    t = float(np.clip(threshold, 1e-7, 1 - 1e-7))
    return 1.0 / (1.0 + np.exp(-(np.log(s / (1 - s)) - math.log(t / (1 - t)))))


THRESHOLD_GRID = np.round(np.arange(0.04, 0.97, 0.02), 2)


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold with the best balanced accuracy (mean of the per-class recalls); ties go
    to the median of the tied thresholds, the middle of the plateau. 0.5 without both classes."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.all() or not labels.any():
        return 0.5
    balanced = np.array([
        (np.mean(scores[labels] >= t) + np.mean(scores[~labels] < t)) / 2 for t in THRESHOLD_GRID
    ])
    tied = THRESHOLD_GRID[np.isclose(balanced, balanced.max())]
    return float(np.median(tied))


# Clip scores from window scores: (scores of every window, NaN outside `clips`; clips) -> scores.
ClipScorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CrossValidation:
    clip_scores: np.ndarray  # out-of-fold score per clip (threshold moved to 0.5 per fold)
    clip_fold: np.ndarray  # the fold in which each clip was validated
    window_scores: np.ndarray  # out-of-fold score of every window (same shift)
    best_epochs: tuple[int, ...]  # epochs trained per fold before early stopping kept the best
    thresholds: tuple[float, ...]  # per fold, chosen on its inner validation clips
    folds: tuple[Split, ...]


def cross_validate(
    x: np.ndarray,
    window_clip: np.ndarray,
    clip_labels: np.ndarray,
    groups: Sequence[str] | np.ndarray,
    n_splits: int,
    params: TrainParams,
    progress: Callable[[int, int], None] | None = None,
    clip_scorer: ClipScorer | None = None,
    tune_threshold: bool = False,
) -> CrossValidation:
    """Grouped k-fold: out-of-fold clip scores. Early stopping in each fold uses an inner grouped
    split of that fold's training clips, never the fold's own validation clips; with
    `tune_threshold` the same inner clips choose the fold's decision threshold, and the fold's
    scores are shifted so that it sits at 0.5. `clip_scorer` turns window scores into clip
    scores (default: the max over the clip's windows)."""
    clip_labels = np.asarray(clip_labels)
    groups_arr = np.asarray(groups)
    fold_seed = params.seed if params.fold_seed is None else params.fold_seed
    folds = grouped_kfold(groups_arr, n_splits, clip_labels, fold_seed)
    scores = np.full(len(clip_labels), np.nan)
    window_scores = np.full(len(x), np.nan)
    clip_fold = np.full(len(clip_labels), -1, dtype=np.int64)
    best_epochs, thresholds = [], []

    def score_clips(model: keras.Model, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mine = np.isin(window_clip, clips)
        per_window = np.full(len(x), np.nan)
        per_window[mine] = predict_windows(model, x[mine])
        if clip_scorer is not None:
            return clip_scorer(per_window, clips), per_window
        _, wc = _subset(x, window_clip, clips)
        return (clip_scores_from_windows(per_window[mine], wc, len(clips), params.aggregation),
                per_window)

    for fold, (train, val) in enumerate(folds):
        inner_train, inner_val = grouped_kfold(
            groups_arr[train],
            min(params.inner_val_splits, len(np.unique(groups_arr[train]))),
            clip_labels[train],
            fold_seed + 1 + fold,
        )[0]
        model, history = fit_person_model(
            x, window_clip, clip_labels, train[inner_train], train[inner_val], params
        )
        losses = history.get("val_clip_loss", [])
        best_epochs.append(int(np.argmin(losses)) + 1 if losses else params.epochs)
        threshold = 0.5
        if tune_threshold:
            inner_scores, _ = score_clips(model, train[inner_val])
            threshold = best_threshold(clip_labels[train[inner_val]], inner_scores)
        thresholds.append(threshold)
        val_scores, per_window = score_clips(model, val)
        mine = np.isin(window_clip, val)
        window_scores[mine] = shift_scores(per_window[mine], threshold)
        scores[val] = shift_scores(val_scores, threshold)
        clip_fold[val] = fold
        if progress is not None:
            progress(fold + 1, len(folds))
    return CrossValidation(scores, clip_fold, window_scores, tuple(best_epochs),
                           tuple(thresholds), tuple(folds))


# --------------------------------------------------------------------------- plots

_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def plot_confusion_matrix(
    confusion: np.ndarray, path: Path, labels: Sequence[str] = ("no fight", "fight")
) -> None:
    """2x2 confusion matrix as a PNG: rows true class, columns predicted, shade by row share."""
    cm = np.asarray(confusion)
    cell, margin = 160, 130
    size = margin + 2 * cell + 20
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    row_totals = np.maximum(cm.sum(axis=1, keepdims=True), 1)
    for r in range(2):
        for c in range(2):
            share = cm[r, c] / row_totals[r, 0]
            shade = int(255 - 200 * share)
            x0, y0 = margin + c * cell, margin + r * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (255, shade, shade), -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), _BLACK, 1)
            colour = _WHITE if share > 0.6 else _BLACK
            cv2.putText(img, str(int(cm[r, c])), (x0 + 55, y0 + 90), _FONT, 1.1, colour, 2)
    for i, name in enumerate(labels):
        cv2.putText(img, name, (margin + i * cell + 30, margin - 15), _FONT, 0.55, _BLACK, 1)
        cv2.putText(img, name, (10, margin + i * cell + 85), _FONT, 0.55, _BLACK, 1)
    cv2.putText(img, "predicted", (margin + cell - 45, 40), _FONT, 0.6, _BLACK, 1)
    cv2.putText(img, "true", (10, margin - 15), _FONT, 0.6, _BLACK, 1)
    _write_png(path, img)


def plot_roc_curves(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray, float]], path: Path
) -> None:
    """ROC curves as a PNG; each curve is (name, fpr, tpr, auc), drawn in its own colour."""
    size, margin = 520, 60
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    span = size - 2 * margin

    def to_px(fpr: float, tpr: float) -> tuple[int, int]:
        return int(margin + fpr * span), int(size - margin - tpr * span)

    cv2.rectangle(img, to_px(0, 0), to_px(1, 1), _BLACK, 1)
    cv2.line(img, to_px(0, 0), to_px(1, 1), (180, 180, 180), 1)
    for tick in (0.0, 0.5, 1.0):
        cv2.putText(img, f"{tick:.1f}", (to_px(tick, 0)[0] - 12, size - margin + 20), _FONT,
                    0.45, _BLACK, 1)
        cv2.putText(img, f"{tick:.1f}", (margin - 35, to_px(0, tick)[1] + 5), _FONT, 0.45,
                    _BLACK, 1)
    cv2.putText(img, "false positive rate", (size // 2 - 80, size - 15), _FONT, 0.5, _BLACK, 1)
    cv2.putText(img, "true positive rate", (5, 30), _FONT, 0.5, _BLACK, 1)
    colours = [(40, 40, 220), (200, 120, 30), (40, 160, 40), (160, 40, 160)]  # BGR
    for i, (name, fpr, tpr, auc) in enumerate(curves):
        colour = colours[i % len(colours)]
        points = np.array([to_px(f, t) for f, t in zip(fpr, tpr, strict=True)], dtype=np.int32)
        cv2.polylines(img, [points], False, colour, 2)
        cv2.putText(img, f"{name} (AUC {auc:.3f})", (margin + 130, size - margin - 20 - 22 * i),
                    _FONT, 0.5, colour, 1)
    _write_png(path, img)


def _write_png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")
