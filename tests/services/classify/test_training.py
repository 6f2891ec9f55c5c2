"""Training utilities: grouped folds, metrics, bootstrap, metadata baseline, plots, fitting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from tensorflow.python.framework import config as tf_config

from services.classify import model as M
from services.classify import training as T
from services.classify.features import COL_KP_SPEED_MEAN, COL_PRESENT, FEATURE_DIM


@pytest.fixture(autouse=True)
def _restore_op_determinism() -> Iterator[None]:
    """Training turns on TensorFlow's process-wide op determinism; put it back afterwards so
    other tests in the same process run as they would alone (the public API has no off)."""
    before = tf_config.is_op_determinism_enabled()
    yield
    if not before:
        tf_config.disable_op_determinism()


GROUPS = np.array([f"src{i % 7}" for i in range(40)])
LABELS = np.array([(i // 3) % 2 for i in range(40)])


@pytest.mark.parametrize("n_splits", [2, 3, 5, 7])
def test_grouped_kfold_keeps_groups_whole(n_splits: int) -> None:
    folds = T.grouped_kfold(GROUPS, n_splits, LABELS, seed=1)
    assert len(folds) == n_splits
    validated = np.concatenate([val for _, val in folds])
    assert sorted(validated.tolist()) == list(range(len(GROUPS)))  # each sample once
    for train, val in folds:
        assert set(GROUPS[train]).isdisjoint(GROUPS[val])
        assert len(train) + len(val) == len(GROUPS)
        assert set(LABELS[val]) == {0, 1}  # stratified enough to see both classes


def test_grouped_kfold_is_deterministic_and_balanced() -> None:
    groups = np.repeat([f"g{i}" for i in range(20)], 3)
    a = T.grouped_kfold(groups, 4, seed=7)
    b = T.grouped_kfold(groups, 4, seed=7)
    for (ta, va), (tb, vb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(va, vb)
    assert sorted(len(v) for _, v in a) == [15, 15, 15, 15]


@pytest.mark.parametrize("n_splits", [1, 8])
def test_grouped_kfold_refuses_impossible_splits(n_splits: int) -> None:
    with pytest.raises(ValueError, match="n_splits"):
        T.grouped_kfold(GROUPS, n_splits)


def test_metrics_on_a_hand_case() -> None:
    y = np.array([1, 1, 0, 0, 1])
    s = np.array([0.9, 0.4, 0.6, 0.1, 0.7])
    m = T.binary_metrics(y, s)
    # Predictions 1,0,1,0,1: tp=2 (0.9, 0.7), fn=1 (0.4), fp=1 (0.6), tn=1 (0.1).
    assert m.confusion == ((1, 1), (1, 2))
    assert m.accuracy == pytest.approx(3 / 5)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)
    # Positive-negative pairs ordered right: 0.9>0.6, 0.9>0.1, 0.4>0.1, 0.7>0.6, 0.7>0.1 of 6.
    assert m.roc_auc == pytest.approx(5 / 6)
    assert m.n == 5
    assert m.as_dict()["confusion_matrix"] == [[1, 1], [1, 2]]


@pytest.mark.parametrize(
    ("y", "s", "auc"),
    [
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # all tied
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),
        ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
        ([0, 1, 1], [0.3, 0.3, 0.9], 0.75),  # one tie counts half
    ],
)
def test_roc_auc(y: list[int], s: list[float], auc: float) -> None:
    assert T.roc_auc(np.array(y), np.array(s)) == pytest.approx(auc)


def test_roc_auc_undefined_with_one_class_and_empty_precision() -> None:
    m = T.binary_metrics(np.array([0, 0]), np.array([0.1, 0.2]))
    assert np.isnan(m.roc_auc)
    assert m.precision == 0.0 and m.recall == 0.0 and m.f1 == 0.0 and m.accuracy == 1.0


def test_roc_curve_runs_corner_to_corner() -> None:
    fpr, tpr = T.roc_curve(np.array([0, 1, 0, 1]), np.array([0.2, 0.9, 0.6, 0.4]))
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(
        T.roc_auc(np.array([0, 1, 0, 1]), np.array([0.2, 0.9, 0.6, 0.4]))
    )


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    s = np.clip(y * 0.4 + rng.uniform(0, 0.6, 60), 0, 1)
    point = T.binary_metrics(y, s)
    ci = T.bootstrap_ci(y, s, n_boot=300, seed=4)
    assert ci == T.bootstrap_ci(y, s, n_boot=300, seed=4)
    for name in ("accuracy", "f1", "roc_auc"):
        low, high = ci[name]
        assert low <= getattr(point, name) <= high
        assert high - low > 0.01


def test_cluster_bootstrap_resamples_whole_groups() -> None:
    """Six sources, each entirely right or entirely wrong: the clips are not independent, and
    resampling sources must give a much wider interval than resampling clips."""
    groups = np.repeat(np.arange(6), 10)
    y = np.tile([0, 1], 30)
    right = np.repeat([True, False, True, False, True, False], 10)
    s = np.where(right, y, 1 - y).astype(float)
    by_clip = T.bootstrap_ci(y, s, n_boot=300, seed=1)["accuracy"]
    by_group = T.bootstrap_ci(y, s, groups=groups, n_boot=300, seed=1)["accuracy"]
    assert by_group[1] - by_group[0] > 2 * (by_clip[1] - by_clip[0])


def test_metadata_baseline_finds_a_resolution_shortcut() -> None:
    n = 40
    width = np.where(LABELS == 1, 1920, 320)
    height = np.where(LABELS == 1, 1080, 240)
    rng = np.random.default_rng(2)
    meta = T.metadata_features(width, height, rng.choice([25, 30], n), rng.uniform(1, 4, n))
    folds = T.grouped_kfold(GROUPS, 4, LABELS)
    kinds: tuple[T.BaselineKind, ...] = ("tree", "logistic")
    for kind in kinds:
        scores = T.metadata_baseline_scores(meta, LABELS, folds, kind)
        assert not np.isnan(scores).any()
        assert T.binary_metrics(LABELS, scores).accuracy == 1.0
    # No shortcut in the metadata: near chance.
    noise = T.metadata_features(np.full(n, 640), np.full(n, 360), np.full(n, 30),
                                rng.uniform(1, 4, n))
    scores = T.metadata_baseline_scores(noise, LABELS, folds, "tree")
    assert T.binary_metrics(LABELS, scores).accuracy < 0.8


def test_plots_are_written(tmp_path: Path) -> None:
    cm_path, roc_path = tmp_path / "cm.png", tmp_path / "plots" / "roc.png"
    T.plot_confusion_matrix(np.array([[40, 10], [5, 45]]), cm_path)
    fpr, tpr = T.roc_curve(np.array([0, 1, 0, 1]), np.array([0.2, 0.9, 0.6, 0.4]))
    T.plot_roc_curves([("model", fpr, tpr, 0.75), ("metadata", fpr[::-1] * 0, tpr, 0.5)],
                      roc_path)
    for path in (cm_path, roc_path):
        img = cv2.imread(str(path))
        assert img is not None and img.shape[0] > 300
        assert (img < 250).any()  # something was drawn


NOISY_COLUMNS = [1, 2, 3, 40, 60, 90, 95]


def _separable(n_clips: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fight clips hold one person window with fast keypoints; everything else is calm."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_clips) % 2
    groups = np.array([f"s{i // 2}" for i in range(n_clips)])  # both classes per source
    xs, owners = [], []
    for clip in range(n_clips):
        for w in range(3):
            x = np.zeros((16, FEATURE_DIM), dtype=np.float32)
            x[:, NOISY_COLUMNS] = rng.normal(size=(16, len(NOISY_COLUMNS)))
            x[:, COL_PRESENT] = 1.0
            x[: rng.integers(0, 5)] = 0.0
            if labels[clip] and w == 0:
                x[:, COL_KP_SPEED_MEAN] += 3.0
            xs.append(x)
            owners.append(clip)
    return np.stack(xs), np.array(owners), labels, groups


def test_cross_validate_learns_a_clear_signal_out_of_fold() -> None:
    x, window_clip, labels, groups = _separable(24, seed=0)
    params = T.TrainParams(epochs=10, patience=10, batch_size=2, learning_rate=1e-3,
                           lstm_units=8, bag_size=4, inner_val_splits=3, mode="mil", seed=1)
    calls: list[tuple[int, int]] = []
    cv = T.cross_validate(x, window_clip, labels, groups, 2, params,
                          progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]
    assert not np.isnan(cv.clip_scores).any()
    for fold, (_, val) in enumerate(cv.folds):
        assert np.all(cv.clip_fold[val] == fold)
    assert all(1 <= e <= params.epochs for e in cv.best_epochs)
    assert T.binary_metrics(labels, cv.clip_scores).roc_auc >= 0.9


def test_a_fold_seed_keeps_the_folds_while_the_model_seed_changes() -> None:
    x, window_clip, labels, groups = _separable(12, seed=0)
    params = T.TrainParams(epochs=1, batch_size=4, learning_rate=1e-3, lstm_units=4, bag_size=2,
                           inner_val_splits=2, seed=0)
    base = T.cross_validate(x, window_clip, labels, groups, 2, params)
    other_model = T.cross_validate(x, window_clip, labels, groups, 2,
                                   replace(params, seed=1, fold_seed=0))
    other_folds = T.cross_validate(x, window_clip, labels, groups, 2, replace(params, seed=1))
    assert np.array_equal(base.clip_fold, other_model.clip_fold)
    assert not np.array_equal(base.clip_fold, other_folds.clip_fold)
    assert not np.allclose(base.clip_scores, other_model.clip_scores)  # other initial weights


def test_fit_is_reproducible_from_the_seed() -> None:
    x, window_clip, labels, _ = _separable(8, seed=3)
    params = T.TrainParams(epochs=2, learning_rate=1e-3, lstm_units=4, mode="inherit", seed=5)
    clips = np.arange(8)
    a, history = T.fit_person_model(x, window_clip, labels, clips, None, params)
    b, _ = T.fit_person_model(x, window_clip, labels, clips, None, params)
    assert len(history["loss"]) == 2
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_make_bags_pads_and_subsamples() -> None:
    x = np.ones((7, 16, FEATURE_DIM), dtype=np.float32)
    x *= np.arange(7)[:, None, None] + 1
    window_clip = np.array([0, 0, 0, 0, 0, 1, 1])
    bags = T.make_bags(x, window_clip, np.array([0, 1]), bag_size=3)
    assert bags.shape == (2, 3, 16, FEATURE_DIM)
    assert [bags[0, i, 0, 0] for i in range(3)] == [1.0, 3.0, 5.0]  # evenly spaced subset
    assert [bags[1, i, 0, 0] for i in range(3)] == [6.0, 7.0, 0.0]  # padded


def test_clip_scores_from_windows() -> None:
    scores = T.clip_scores_from_windows(
        np.array([0.1, 0.7, 0.2, 0.5]), np.array([0, 0, 2, 2]), n_clips=3
    )
    np.testing.assert_allclose(scores, [0.7, 0.0, 0.5])


def test_ignored_columns_cannot_move_the_scores() -> None:
    x, window_clip, labels, _ = _separable(8, seed=4)
    ignored = (NOISY_COLUMNS[0], COL_KP_SPEED_MEAN)
    params = T.TrainParams(epochs=2, learning_rate=1e-2, lstm_units=4, mode="inherit", seed=2,
                           ignore_columns=ignored)
    model, _ = T.fit_person_model(x, window_clip, labels, np.arange(8), None, params)
    changed = x.copy()
    changed[:, :, list(ignored)] += 50.0 * (changed[:, :, [COL_PRESENT]] > 0)
    np.testing.assert_allclose(M.predict_windows(model, changed), M.predict_windows(model, x),
                               atol=1e-3)


def test_mirror_doubles_the_training_clips() -> None:
    x, window_clip, labels, _ = _separable(6, seed=5)
    params = T.TrainParams(epochs=1, lstm_units=4, mode="mil", bag_size=4, batch_size=4,
                           mirror=True, seed=1)
    _, history = T.fit_person_model(x, window_clip, labels, np.arange(6), None, params)
    assert len(history["loss"]) == 1  # 12 bags of 4 clips each: it trains


@pytest.mark.parametrize(
    ("labels", "scores", "expected"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 0.25),  # anywhere in (0.2, 0.3]: the middle
        ([0, 0, 1, 1], [0.6, 0.7, 0.8, 0.9], 0.75),
        ([1, 1], [0.2, 0.3], 0.5),  # one class: no information, keep 0.5
    ],
)
def test_best_threshold(labels: list[int], scores: list[float], expected: float) -> None:
    assert T.best_threshold(np.array(labels), np.array(scores)) == pytest.approx(expected, abs=0.02)


def test_shifted_scores_put_the_threshold_at_one_half() -> None:
    scores = np.array([0.05, 0.2, 0.3, 0.31, 0.9])
    shifted = T.shift_scores(scores, 0.3)
    assert shifted[2] == pytest.approx(0.5)
    assert np.all(np.diff(shifted) > 0)  # order kept: AUC unchanged
    np.testing.assert_array_equal(shifted >= 0.5 - 1e-9, scores >= 0.3)


def test_the_model_shift_matches_the_score_shift() -> None:
    model = M.build_model(FEATURE_DIM, 16, lstm_units=4, seed=1)
    x, *_ = _separable(4, seed=6)
    before = M.predict_windows(model, x)
    M.shift_decision_threshold(model, 0.3)
    np.testing.assert_allclose(M.predict_windows(model, x), T.shift_scores(before, 0.3),
                               atol=1e-5)
