"""The per-person violence classifier (the paper's LSTM + dense head) and clip aggregation.

Architecture, as in Kiani and Kayani: the person's feature sequence (window, FEATURE_DIM), padded
steps masked, goes through an LSTM, then three dense layers: 2048 ReLU, 1024 ReLU, 2 softmax
(index 1 = violent), each initialised with Xavier uniform (`GlorotUniform`). Dropout sits between
the dense layers. An optional fixed standardisation (training-set mean and variance of the real,
unpadded steps) comes right after the mask so that the mask still reaches the LSTM.

Per-person labels from clip labels (only clips are labelled). Multiple-instance learning: a clip
is a bag of person windows (every track's sliding windows), and a clip is violent when at least
one person in it is. Two ways to train on that, both here:

- inherited labels: every window of a fight clip is labelled violent, every window of a no-fight
  clip not. Simple and works with any batch size, but bystanders in fight clips become noisy
  positives. Negatives are clean: nobody in a no-fight clip is violent.
- bag training (`build_bag_model`): the person model scores every window of the clip, the bag's
  score is the max (or noisy-or) of those, and the loss is taken on the clip label only. A fight
  clip then needs just one violent person window; no-fight clips push every window down.

Either way, a clip's score at evaluation is `clip_score` over its person-window scores (max by
default), the same rule the event logic applies per frame (a frame is violent when some track is).
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

DENSE_UNITS = (2048, 1024)
VIOLENT_CLASS = 1
Aggregation = Literal["max", "noisy_or"]


def build_model(
    feature_dim: int,
    window: int,
    lstm_units: int = 64,
    seed: int = 0,
    dropout: float = 0.3,
    feature_mean: np.ndarray | None = None,
    feature_variance: np.ndarray | None = None,
) -> keras.Model:
    """The paper's classifier; the seed fixes every initialiser, so two builds are identical."""
    inputs = keras.Input(shape=(window, feature_dim), name="person_sequence")
    x = layers.Masking(mask_value=0.0, name="padding_mask")(inputs)
    if feature_mean is not None and feature_variance is not None:
        x = layers.Normalization(
            axis=-1, mean=feature_mean, variance=feature_variance, name="standardise"
        )(x)
    x = layers.LSTM(
        lstm_units,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 1),
        # cuDNN only takes right-padded masks (Keras asserts at run time); ours pad the front
        # and may have gaps, so always use the generic kernel, on CPU and GPU alike.
        use_cudnn=False,
        name="lstm",
    )(x)
    for i, units in enumerate(DENSE_UNITS):
        x = layers.Dropout(dropout, seed=seed + 10 + i, name=f"dropout_{i}")(x)
        x = layers.Dense(
            units,
            activation="relu",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 2 + i),
            name=f"dense_{units}",
        )(x)
    x = layers.Dropout(dropout, seed=seed + 20, name="dropout_out")(x)
    outputs = layers.Dense(
        2,
        activation="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 9),
        name="violence",
    )(x)
    return keras.Model(inputs, outputs, name="vigil_violence")


def standardisation_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance per feature over the real (unpadded) steps of x (n, window, F)."""
    steps = x.reshape(-1, x.shape[-1])
    real = steps[np.any(steps != 0.0, axis=-1)]
    if len(real) == 0:
        return np.zeros(x.shape[-1]), np.ones(x.shape[-1])
    variance = real.var(axis=0)
    # Constant columns (e.g. the `present` flag) keep unit scale instead of dividing by ~0.
    return real.mean(axis=0), np.where(variance > 1e-8, variance, 1.0)


def save_model(model: keras.Model, path: Path) -> None:
    """Write the model in the native `.keras` format (architecture + weights)."""
    if path.suffix != ".keras":
        raise ValueError(f"model path must end in .keras: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Keras 3.15 calls np.array() on TF variables while saving; under NumPy 2 TensorFlow's
        # Variable.__array__ warns that it lacks the `copy` keyword. Harmless, and not ours.
        warnings.filterwarnings(
            "ignore",
            message=r"__array__ implementation doesn't accept a copy keyword",
            category=DeprecationWarning,
        )
        model.save(path)


def shift_decision_threshold(model: keras.Model, threshold: float) -> keras.Model:
    """Make `threshold` the model's 0.5: the violent logit's bias moves by -logit(threshold), so
    every score s becomes sigmoid(logit(s) - logit(threshold)) (`training.shift_scores`), and
    the service's `on_threshold` of 0.5 means what training chose. In place; returns the model."""
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    layer = model.get_layer("violence")
    kernel, bias = layer.get_weights()
    bias = bias.copy()
    bias[VIOLENT_CLASS] -= math.log(t / (1 - t))
    layer.set_weights([kernel, bias])
    return model


def quantize_for_shipping(model: keras.Model) -> keras.Model:
    """Dense kernels to int8 with per-channel scales (Keras' own quantization): the 2048 x 1024
    layer is most of the file, and the shipped model shrinks from ~9 MB to ~2.5 MB; scores move
    by ~1e-3. Other layers keep float32. Changes the model in place and returns it."""
    with warnings.catch_warnings():
        # Keras warns for every layer type it leaves alone (LSTM, Masking, ...): expected.
        warnings.filterwarnings(
            "ignore", message=r"Layer .* does not have a `quantize` method", category=UserWarning
        )
        model.quantize("int8")
    return model


def load_model(
    path: Path, window: int | None = None, feature_dim: int | None = None
) -> keras.Model:
    """Load a `.keras` model; a missing file or a shape that does not match is a clear error."""
    if not path.is_file():
        raise FileNotFoundError(
            f"violence model not found at {path}: train one with `vigil train` or set "
            "VIGIL_CLASSIFY__MODEL_PATH to an existing .keras file"
        )
    model = keras.saving.load_model(path, compile=False)
    _, got_window, got_dim = model.input_shape
    if (window is not None and got_window != window) or (
        feature_dim is not None and got_dim != feature_dim
    ):
        raise ValueError(
            f"model {path} expects sequences of ({got_window}, {got_dim}), the configuration "
            f"gives ({window}, {feature_dim}): retrain or fix the window"
        )
    return model


# One traced forward function per model: an eager Keras call costs ~70 ms for a 16-step LSTM on
# 2 CPU threads, the traced graph ~3 ms. The batch dimension is left open, so one trace serves
# any number of people.
_FORWARD: weakref.WeakKeyDictionary[keras.Model, Callable[[Any], Any]] = (
    weakref.WeakKeyDictionary()
)


def _forward(model: keras.Model) -> Callable[[Any], Any]:
    forward = _FORWARD.get(model)
    if forward is None:
        _, window, feature_dim = model.input_shape
        spec = tf.TensorSpec((None, window, feature_dim), tf.float32)
        # A weak reference, so the cached function does not keep its model alive.
        model_ref = weakref.ref(model)
        forward = tf.function(
            lambda x: model_ref()(x, training=False),  # type: ignore[misc]
            input_signature=[spec],
        )
        _FORWARD[model] = forward
    return forward


def predict_people(model: keras.Model, sequences: Mapping[int, np.ndarray]) -> dict[int, float]:
    """Violent probability per track id: one batched inference call, no `predict` overhead."""
    if not sequences:
        return {}
    track_ids = list(sequences)
    batch = np.stack([sequences[tid] for tid in track_ids]).astype(np.float32)
    probs = ops.convert_to_numpy(_forward(model)(batch))[:, VIOLENT_CLASS]
    return {tid: float(p) for tid, p in zip(track_ids, probs, strict=True)}


def predict_windows(model: keras.Model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Violent probability of every sequence in x (n, window, F), in batches."""
    forward = _forward(model)
    out = [
        ops.convert_to_numpy(forward(x[i : i + batch_size].astype(np.float32)))[:, VIOLENT_CLASS]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def clip_score(person_scores: Sequence[float] | np.ndarray, method: Aggregation = "max") -> float:
    """A clip's violent score from its person (or person-window) scores; 0 with nobody in it."""
    scores = np.clip(np.asarray(person_scores, dtype=np.float64), 0.0, 1.0)
    if scores.size == 0:
        return 0.0
    if method == "max":
        return float(scores.max())
    if method == "noisy_or":
        return float(1.0 - np.prod(1.0 - scores))
    raise ValueError(f"unknown aggregation {method!r}")


class BagPooling(layers.Layer):
    """Scores every instance of a bag with the person model and pools them into one score.

    Training only: the bag model is never saved, the person model inside it is what ships.

    Input (batch, bag, window, F); all-zero instances are padding and do not count.
    Output (batch, 1): the bag's violent probability.
    """

    def __init__(
        self, person_model: keras.Model, method: Aggregation = "max", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.person_model = person_model
        self.method = method

    def call(self, bags: Any, training: bool | None = None) -> Any:
        shape = ops.shape(bags)
        flat = ops.reshape(bags, (-1, shape[2], shape[3]))
        probs = self.person_model(flat, training=training)[:, VIOLENT_CLASS]
        probs = ops.reshape(probs, (-1, shape[1]))
        real = ops.cast(ops.any(ops.not_equal(bags, 0.0), axis=(2, 3)), probs.dtype)
        probs = probs * real
        if self.method == "max":
            pooled = ops.max(probs, axis=1)
        else:
            pooled = 1.0 - ops.exp(ops.sum(ops.log(ops.maximum(1.0 - probs, 1e-7)), axis=1))
        return ops.expand_dims(pooled, -1)


def build_bag_model(
    person_model: keras.Model, bag_size: int, method: Aggregation = "max"
) -> keras.Model:
    """Clip-level model for multiple-instance training; shares the person model's weights."""
    _, window, feature_dim = person_model.input_shape
    bags = keras.Input(shape=(bag_size, window, feature_dim), name="clip_bag")
    pooled = BagPooling(person_model, method, name="bag_pooling")(bags)
    return keras.Model(bags, pooled, name="vigil_violence_bag")
