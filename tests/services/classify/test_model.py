"""The paper's classifier: architecture, initialisers, masking, save/load, aggregation."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest

from services.classify import model as M
from services.classify.features import COL_PRESENT, FEATURE_DIM

WINDOW = 16


@pytest.fixture(scope="module")
def person_model() -> keras.Model:
    return M.build_model(FEATURE_DIM, WINDOW, lstm_units=16, seed=3)


def _sequences(n: int, seed: int = 0, padded: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, WINDOW, FEATURE_DIM)).astype(np.float32)
    x[:, :, COL_PRESENT] = 1.0
    x[:, :padded] = 0.0
    return x


def test_architecture_follows_the_paper(person_model: keras.Model) -> None:
    kinds = [type(layer).__name__ for layer in person_model.layers]
    assert kinds.index("Masking") < kinds.index("LSTM")
    # Front padding is not a cuDNN-compatible mask: the GPU must not pick cuDNN.
    assert person_model.get_layer("lstm").use_cudnn is False
    dense = [layer for layer in person_model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [2048, 1024, 2]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "softmax"]
    for layer in dense:
        assert isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform)
    assert person_model.output_shape == (None, 2)


@pytest.mark.parametrize("name", ["dense_2048", "dense_1024", "violence"])
def test_dense_weights_are_xavier_uniform(person_model: keras.Model, name: str) -> None:
    kernel = person_model.get_layer(name).kernel.numpy()
    fan_in, fan_out = kernel.shape
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(kernel).max() <= limit
    # Uniform on [-limit, limit]: the std is limit / sqrt(3).
    assert kernel.std() == pytest.approx(limit / math.sqrt(3.0), rel=0.1)


def test_seed_fixes_the_initial_weights() -> None:
    a = M.build_model(FEATURE_DIM, WINDOW, lstm_units=8, seed=1)
    b = M.build_model(FEATURE_DIM, WINDOW, lstm_units=8, seed=1)
    c = M.build_model(FEATURE_DIM, WINDOW, lstm_units=8, seed=2)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_padding_is_masked(person_model: keras.Model) -> None:
    """Front padding changes nothing: same scores as a model that only sees the real steps."""
    x = _sequences(3, padded=6)
    short = M.build_model(FEATURE_DIM, WINDOW - 6, lstm_units=16, seed=3)
    short.set_weights(person_model.get_weights())
    padded_scores = M.predict_windows(person_model, x)
    np.testing.assert_allclose(padded_scores, M.predict_windows(short, x[:, 6:]), atol=1e-5)


def test_predict_people_matches_a_direct_call(person_model: keras.Model) -> None:
    x = _sequences(3)
    scores = M.predict_people(person_model, {7: x[0], 3: x[1], 11: x[2]})
    assert list(scores) == [7, 3, 11]
    direct = np.asarray(person_model(x, training=False))[:, M.VIOLENT_CLASS]
    np.testing.assert_allclose([scores[7], scores[3], scores[11]], direct, atol=1e-5)
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert M.predict_people(person_model, {}) == {}


def test_save_load_round_trip(tmp_path: Path) -> None:
    x = _sequences(4)
    mean, variance = M.standardisation_stats(x)
    model = M.build_model(FEATURE_DIM, WINDOW, lstm_units=8, seed=5, feature_mean=mean,
                          feature_variance=variance)
    path = tmp_path / "weights" / "violence.keras"
    M.save_model(model, path)
    loaded = M.load_model(path, window=WINDOW, feature_dim=FEATURE_DIM)
    np.testing.assert_allclose(M.predict_windows(loaded, x), M.predict_windows(model, x),
                               atol=1e-6)
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]


def test_load_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="vigil train"):
        M.load_model(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match=r"\.keras"):
        M.save_model(M.build_model(FEATURE_DIM, WINDOW, 4), tmp_path / "model.h5")
    path = tmp_path / "violence.keras"
    M.save_model(M.build_model(FEATURE_DIM, WINDOW, 4), path)
    with pytest.raises(ValueError, match="window"):
        M.load_model(path, window=WINDOW + 1, feature_dim=FEATURE_DIM)


def test_standardisation_ignores_padding() -> None:
    x = _sequences(5, padded=8)
    mean, variance = M.standardisation_stats(x)
    real = x[:, 8:].reshape(-1, FEATURE_DIM)
    np.testing.assert_allclose(mean, real.mean(axis=0), atol=1e-6)
    assert mean[COL_PRESENT] == pytest.approx(1.0)
    assert variance[COL_PRESENT] == 1.0  # constant column keeps unit scale


@pytest.mark.parametrize(
    ("scores", "method", "expected"),
    [
        ([0.1, 0.8, 0.3], "max", 0.8),
        ([0.5, 0.5], "noisy_or", 0.75),
        ([], "max", 0.0),
        ([], "noisy_or", 0.0),
        ([0.2], "noisy_or", 0.2),
    ],
)
def test_clip_score(scores: list[float], method: M.Aggregation, expected: float) -> None:
    assert M.clip_score(scores, method) == pytest.approx(expected)


def test_clip_score_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="aggregation"):
        M.clip_score([0.5], "mean")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["max", "noisy_or"])
def test_bag_model_pools_real_instances_only(
    person_model: keras.Model, method: M.Aggregation
) -> None:
    x = _sequences(3)
    bag = np.zeros((1, 5, WINDOW, FEATURE_DIM), dtype=np.float32)
    bag[0, :3] = x  # instances 3 and 4 are padding
    bag_model = M.build_bag_model(person_model, bag_size=5, method=method)
    pooled = float(np.asarray(bag_model(bag, training=False))[0, 0])
    expected = M.clip_score(M.predict_windows(person_model, x), method)
    assert pooled == pytest.approx(expected, abs=1e-5)
