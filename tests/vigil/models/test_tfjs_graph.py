"""The TF.js graph-model converter, on a small model written by the test."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from vigil.models.runtime import GraphModel
from vigil.models.tfjs_graph import ConversionError, convert, read_weights


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _ints(values: list[int]) -> dict[str, Any]:
    return {"list": {"i": [str(v) for v in values]}}


def _const(name: str, dtype: str = "DT_FLOAT") -> dict[str, Any]:
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}}}


def _fused(name: str, op: str, inputs: list[str], fused: list[str], padding: str) -> dict[str, Any]:
    return {
        "name": name,
        "op": op,
        "input": inputs,
        "device": "/device:CPU:0",  # as TF.js exports it; the converter must drop it
        "attr": {
            "T": {"type": "DT_FLOAT"},
            "strides": _ints([1, 1, 1, 1]),
            "dilations": _ints([1, 1, 1, 1]),
            "padding": {"s": _b64(padding)},
            "data_format": {"s": _b64("NHWC")},
            "fused_ops": {"list": {"s": [_b64(f) for f in fused]}},
            "num_args": {"i": "1"},
            "explicit_paddings": {"list": {}},
        },
    }


def write_model(directory: Path, weights: dict[str, np.ndarray], fused: list[str]) -> Path:
    """A TF.js graph model: conv (fused ops `fused`) -> depthwise conv (bias, relu6) -> reshape,
    weights split over two shards, float weights but one stored as float16."""
    nodes = [
        {
            "name": "input",
            "op": "Placeholder",
            "attr": {
                "dtype": {"type": "DT_FLOAT"},
                "shape": {
                    "shape": {"dim": [{"size": "1"}, {"size": "-1"}, {"size": "-1"}, {"size": "3"}]}
                },
            },
        },
        _const("conv_w"),
        _const("conv_b"),
        _const("dw_w"),
        _const("dw_b"),
        _const("flat_shape", "DT_INT32"),
        _fused("conv", "_FusedConv2D", ["input", "conv_w", "conv_b"], fused, "SAME"),
        _fused(
            "dw",
            "FusedDepthwiseConv2dNative",
            ["conv", "dw_w", "dw_b"],
            ["BiasAdd", "Relu6"],
            "VALID",
        ),
        {
            "name": "flat",
            "op": "Reshape",
            "input": ["dw", "flat_shape"],
            "attr": {"T": {"type": "DT_FLOAT"}, "Tshape": {"type": "DT_INT32"}},
        },
        {
            "name": "Identity",
            "op": "Identity",
            "input": ["flat"],
            "attr": {"T": {"type": "DT_FLOAT"}},
        },
    ]
    specs = []
    blobs = []
    for name, array in weights.items():
        spec: dict[str, Any] = {"name": name, "shape": list(array.shape), "dtype": array.dtype.name}
        if name == "conv_w":
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(array.astype("<f2").tobytes())
        else:
            blobs.append(array.tobytes())
        specs.append(spec)
    data = b"".join(blobs)
    (directory / "model.bin").write_bytes(data[:100])
    (directory / "model2.bin").write_bytes(data[100:])
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes, "library": {}, "versions": {"producer": 808}},
        "weightsManifest": [{"paths": ["model.bin", "model2.bin"], "weights": specs}],
        "signature": {
            "inputs": {"image": {"name": "input:0"}},
            "outputs": {"features": {"name": "Identity:0"}},
        },
    }
    path = directory / "model.json"
    path.write_text(json.dumps(model))
    return path


@pytest.fixture
def weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "conv_w": rng.normal(size=(3, 3, 3, 4)).astype(np.float32),
        "conv_b": rng.normal(size=(4,)).astype(np.float32),
        "dw_w": rng.normal(size=(3, 3, 4, 1)).astype(np.float32),
        "dw_b": rng.normal(size=(4,)).astype(np.float32),
        "flat_shape": np.array([1, -1], np.int32),
    }


@pytest.mark.parametrize(
    ("fused", "activation"),
    [
        (["BiasAdd"], lambda x: x),
        (["BiasAdd", "Relu"], tf.nn.relu),
        (["BiasAdd", "Relu6"], tf.nn.relu6),
    ],
)
def test_converted_graph_computes_what_the_fused_ops_mean(
    tmp_path: Path, weights: dict[str, np.ndarray], fused: list[str], activation: Any
) -> None:
    converted = convert(write_model(tmp_path, weights, fused))
    model = GraphModel(
        converted.graph_def, list(converted.inputs.values()), list(converted.outputs.values())
    )
    image = np.random.default_rng(1).normal(size=(1, 9, 7, 3)).astype(np.float32)
    (actual,) = model(image)

    conv_w = weights["conv_w"].astype(np.float16).astype(np.float32)  # stored as float16
    x = activation(tf.nn.bias_add(tf.nn.conv2d(image, conv_w, 1, "SAME"), weights["conv_b"]))
    x = tf.nn.relu6(
        tf.nn.bias_add(
            tf.nn.depthwise_conv2d(x, weights["dw_w"], [1, 1, 1, 1], "VALID"), weights["dw_b"]
        )
    )
    expected = tf.reshape(x, [1, -1]).numpy()
    assert actual.shape == (1, 7 * 5 * 4)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_converter_keeps_the_signature_and_no_device(
    tmp_path: Path, weights: dict[str, np.ndarray]
) -> None:
    converted = convert(write_model(tmp_path, weights, ["BiasAdd"]))
    assert converted.inputs == {"image": "input:0"}
    assert converted.outputs == {"features": "Identity:0"}
    assert all(node.device == "" for node in converted.graph_def.node)
    assert {n.op for n in converted.graph_def.node}.isdisjoint(
        {"_FusedConv2D", "FusedDepthwiseConv2dNative"}
    )


def test_affine_uint8_weights_are_dequantized(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(np.array([0, 10, 255], np.uint8).tobytes())
    manifest = [
        {
            "paths": ["w.bin"],
            "weights": [
                {
                    "name": "w",
                    "shape": [3],
                    "dtype": "float32",
                    "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0},
                }
            ],
        }
    ]
    np.testing.assert_allclose(read_weights(manifest, tmp_path)["w"], [-1.0, 4.0, 126.5])


@pytest.mark.parametrize(
    ("shard_bytes", "message"),
    [(b"\x00" * 8, "too short"), (b"\x00" * 16, "bytes left")],
)
def test_shards_of_the_wrong_size_are_refused(
    tmp_path: Path, shard_bytes: bytes, message: str
) -> None:
    (tmp_path / "w.bin").write_bytes(shard_bytes)
    manifest = [{"paths": ["w.bin"], "weights": [{"name": "w", "shape": [3], "dtype": "float32"}]}]
    with pytest.raises(ConversionError, match=message):
        read_weights(manifest, tmp_path)


def test_unsupported_fused_op_is_refused(tmp_path: Path, weights: dict[str, np.ndarray]) -> None:
    with pytest.raises(ConversionError, match="unsupported fused ops"):
        convert(write_model(tmp_path, weights, ["BiasAdd", "Prelu"]))


def test_a_layers_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"format": "layers-model"}))
    with pytest.raises(ConversionError, match=r"not a TF\.js graph model"):
        convert(path)
