"""Convert a TF.js graph model (model JSON + binary weight shards) into a frozen TF GraphDef.

A TF.js graph model is a GraphDef written as JSON whose `Const` nodes lack their values: the
values sit in the weight shards, in manifest order. Rebuilding the GraphDef needs TensorFlow's
protobuf classes alone. TF.js also fuses convolutions into ops of its own
(`FusedDepthwiseConv2dNative`) or into TF-internal ones (`_FusedConv2D`, `_FusedMatMul`); they are
split back into plain ops here so the graph runs on any TF device and converts to TFLite.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import json_format
from tensorflow.core.framework import attr_value_pb2, graph_pb2, node_def_pb2, tensor_pb2, types_pb2

_NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "bool": np.dtype("bool"),
    "float16": np.dtype("<f2"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
    "int64": np.dtype("<i8"),
}
_TF_DTYPES = {
    "float32": types_pb2.DT_FLOAT,
    "int32": types_pb2.DT_INT32,
    "bool": types_pb2.DT_BOOL,
    "int64": types_pb2.DT_INT64,
}
_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu"}


class ConversionError(ValueError):
    """The TF.js model uses something this converter does not handle."""


@dataclass(frozen=True)
class TfjsGraphModel:
    """A converted model: the frozen graph plus the tensor names of its signature."""

    graph_def: graph_pb2.GraphDef
    inputs: dict[str, str]  # signature key -> tensor name ("input:0")
    outputs: dict[str, str]


def read_weights(manifest: Iterable[Mapping[str, Any]], model_dir: Path) -> dict[str, np.ndarray]:
    """Read every weight group's shards and split them into named arrays, dequantized."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        buffer = b"".join((model_dir / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            array, offset = _read_one(spec, buffer, offset)
            weights[spec["name"]] = array
        if offset != len(buffer):
            raise ConversionError(
                f"weight shards {group['paths']}: {len(buffer) - offset} bytes left"
            )
    return weights


def _read_one(spec: Mapping[str, Any], buffer: bytes, offset: int) -> tuple[np.ndarray, int]:
    shape = [int(d) for d in spec["shape"]]
    count = int(np.prod(shape, dtype=np.int64))
    quantization = spec.get("quantization")
    stored = quantization["dtype"] if quantization else spec["dtype"]
    if stored not in _NUMPY_DTYPES:
        raise ConversionError(f"weight {spec['name']}: unsupported dtype {stored}")
    dtype = _NUMPY_DTYPES[stored]
    end = offset + count * dtype.itemsize
    if end > len(buffer):
        raise ConversionError(f"weight {spec['name']}: shards too short")
    raw = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).reshape(shape)
    if quantization is None:
        return raw.copy(), end
    target = _NUMPY_DTYPES[quantization.get("original_dtype", spec["dtype"])]
    if stored == "float16":
        return raw.astype(target), end
    # affine uint8/uint16 quantization: value = q * scale + min
    return (raw.astype(np.float32) * quantization["scale"] + quantization["min"]).astype(
        target
    ), end


def convert(model_json: Path) -> TfjsGraphModel:
    """Build a frozen GraphDef from `model.json` and the shards next to it."""
    spec = json.loads(model_json.read_text())
    if spec.get("format") != "graph-model":
        raise ConversionError(f"{model_json}: not a TF.js graph model")
    topology = spec["modelTopology"]
    weights = read_weights(spec["weightsManifest"], model_json.parent)
    graph_def = graph_pb2.GraphDef()
    if topology.get("versions"):
        json_format.ParseDict(topology["versions"], graph_def.versions)
    if topology.get("library"):
        raise ConversionError(f"{model_json}: graph functions (control flow) are not supported")
    for node_json in topology["node"]:
        node = node_def_pb2.NodeDef()
        json_format.ParseDict(node_json, node)
        # TF.js keeps the device the graph was traced on; clear it so TF places ops itself.
        node.device = ""
        # TF.js keeps each constant's dtype and shape in the graph, its values in the shards.
        if node.op == "Const" and node.name in weights:
            _fill_const(node, weights)
        graph_def.node.extend(_unfuse(node))
    signature = spec.get("signature", {})
    return TfjsGraphModel(
        graph_def=graph_def,
        inputs=_tensor_names(signature.get("inputs", {})),
        outputs=_tensor_names(signature.get("outputs", {})),
    )


def _tensor_names(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    names = {}
    for key, entry in entries.items():
        name = entry["name"]
        names[key] = name if ":" in name else f"{name}:0"
    return names


def _fill_const(node: node_def_pb2.NodeDef, weights: Mapping[str, np.ndarray]) -> None:
    array = weights[node.name]
    dtype_name = array.dtype.name
    if dtype_name not in _TF_DTYPES:
        raise ConversionError(f"constant {node.name}: unsupported dtype {dtype_name}")
    tensor = tensor_pb2.TensorProto(dtype=_TF_DTYPES[dtype_name])
    tensor.tensor_shape.dim.extend(tensor.tensor_shape.Dim(size=int(d)) for d in array.shape)
    tensor.tensor_content = np.ascontiguousarray(
        array, dtype=array.dtype.newbyteorder("<")
    ).tobytes()
    node.attr["value"].tensor.CopyFrom(tensor)
    node.attr["dtype"].type = _TF_DTYPES[dtype_name]


def _fused_ops(node: node_def_pb2.NodeDef) -> list[str]:
    return [s.decode() for s in node.attr["fused_ops"].list.s]


def _unfuse(node: node_def_pb2.NodeDef) -> list[node_def_pb2.NodeDef]:
    """Split TF.js/grappler fused ops into base op + BiasAdd + activation, keeping the name."""
    base_ops = {
        "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
        "_FusedConv2D": "Conv2D",
        "_FusedMatMul": "MatMul",
    }
    if node.op not in base_ops:
        return [node]
    fused = _fused_ops(node)
    if not fused or fused[0] != "BiasAdd" or any(op not in _ACTIVATIONS for op in fused[1:]):
        raise ConversionError(f"{node.name}: unsupported fused ops {fused}")
    if len(fused) > 2:
        raise ConversionError(f"{node.name}: unsupported fused ops {fused}")
    data_input, weight_input, bias_input = list(node.input)[:3]
    base = node_def_pb2.NodeDef(name=f"{node.name}/base", op=base_ops[node.op])
    base.input.extend([data_input, weight_input])
    for key in ("T", "strides", "padding", "data_format", "dilations", "use_cudnn_on_gpu"):
        if key in node.attr:
            base.attr[key].CopyFrom(node.attr[key])
    explicit = node.attr["explicit_paddings"].list.i if "explicit_paddings" in node.attr else []
    if explicit:
        base.attr["explicit_paddings"].CopyFrom(node.attr["explicit_paddings"])
    for key in ("transpose_a", "transpose_b"):
        if key in node.attr:
            base.attr[key].CopyFrom(node.attr[key])
    if node.op == "DepthwiseConv2dNative" or base.op == "DepthwiseConv2dNative":
        base.attr.pop("use_cudnn_on_gpu", None)
    if base.op == "MatMul":
        for key in ("strides", "padding", "data_format", "dilations", "use_cudnn_on_gpu"):
            base.attr.pop(key, None)
    activation = fused[1] if len(fused) == 2 else None
    bias_name = node.name if activation is None else f"{node.name}/bias"
    bias = node_def_pb2.NodeDef(name=bias_name, op="BiasAdd")
    bias.input.extend([base.name, bias_input])
    bias.attr["T"].CopyFrom(node.attr["T"])
    if "data_format" in node.attr and base.op != "MatMul":
        bias.attr["data_format"].CopyFrom(node.attr["data_format"])
    nodes = [base, bias]
    if activation is not None:
        act = node_def_pb2.NodeDef(name=node.name, op=activation)
        act.input.append(bias.name)
        act.attr["T"].CopyFrom(node.attr["T"])
        if activation == "LeakyRelu":
            act.attr["alpha"].CopyFrom(attr_value_pb2.AttrValue(f=node.attr["leakyrelu_alpha"].f))
        nodes.append(act)
    return nodes


def decode_attr_string(value: str) -> str:
    """TF.js JSON stores string attributes base64-encoded (protobuf JSON `bytes`)."""
    return base64.b64decode(value).decode()
