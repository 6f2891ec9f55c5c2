"""Run cached models: frozen GraphDefs through TensorFlow, TFLite files through its interpreter.

A GraphDef becomes a pruned concrete function: TensorFlow places it on a GPU when one is visible
(nothing here pins a device) and calling it from several threads is safe. A TFLite interpreter is
not thread-safe, so each call holds a lock.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from vigil.models.cache import ModelCorruptError, verified_entry


class GraphModel:
    """A frozen TF graph called like a function: arrays in, arrays out (in `outputs` order)."""

    def __init__(
        self, graph_def: graph_pb2.GraphDef, inputs: Sequence[str], outputs: Sequence[str]
    ):
        def import_graph() -> None:
            tf.compat.v1.import_graph_def(graph_def, name="")

        wrapped = tf.compat.v1.wrap_function(import_graph, [])
        graph = wrapped.graph
        self.input_dtypes = [graph.get_tensor_by_name(name).dtype for name in inputs]
        self.input_shapes = [graph.get_tensor_by_name(name).shape.as_list() for name in inputs]
        self._function = wrapped.prune(
            [graph.get_tensor_by_name(name) for name in inputs],
            [graph.get_tensor_by_name(name) for name in outputs],
        )
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)

    @classmethod
    def from_file(cls, path: Path, inputs: Sequence[str], outputs: Sequence[str]) -> GraphModel:
        graph_def = graph_pb2.GraphDef()
        try:
            graph_def.ParseFromString(path.read_bytes())
        except Exception as exc:  # protobuf raises its own DecodeError
            raise ModelCorruptError(
                f"{path} is not a TF GraphDef: run `vigil models fetch`"
            ) from exc
        return cls(graph_def, inputs, outputs)

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        tensors = [
            tf.convert_to_tensor(array, dtype=dtype)
            for array, dtype in zip(arrays, self.input_dtypes, strict=True)
        ]
        return [result.numpy() for result in self._function(*tensors)]


class TFLiteModel:
    """A TFLite model with one input; returns all outputs in the model's order."""

    def __init__(self, path: Path, num_threads: int | None = None):
        with warnings.catch_warnings():
            # TF 2.21 warns that tf.lite.Interpreter moves to the ai-edge-litert package; it is
            # the same interpreter, and it keeps the dependencies to tensorflow alone.
            warnings.filterwarnings(
                "ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated"
            )
            self._interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = self._interpreter.get_output_details()
        self.input_shape = tuple(int(d) for d in self._input["shape"])
        self.output_names = tuple(str(d["name"]) for d in self._outputs)
        self._lock = threading.Lock()

    def __call__(self, array: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], array.astype(self._input["dtype"]))
            self._interpreter.invoke()
            return [self._interpreter.get_tensor(d["index"]).copy() for d in self._outputs]


def load_graph(
    name: str, outputs: Sequence[str] | None = None, cache_dir: Path | None = None
) -> GraphModel:
    """Load a cached GraphDef model after checking its SHA-256; `outputs` prunes the graph."""
    path, entry = verified_entry(name, cache_dir)
    if entry.format != "graphdef":
        raise ValueError(f"model {name!r} is a {entry.format} model, not a graph")
    return GraphModel.from_file(path, entry.inputs, outputs if outputs else entry.outputs)


def load_tflite(
    name: str, num_threads: int | None = None, cache_dir: Path | None = None
) -> TFLiteModel:
    """Load a cached TFLite model after checking its SHA-256."""
    path, entry = verified_entry(name, cache_dir)
    if entry.format != "tflite":
        raise ValueError(f"model {name!r} is a {entry.format} model, not TFLite")
    try:
        return TFLiteModel(path, num_threads)
    except ValueError as exc:
        raise ModelCorruptError(f"{path} is not a TFLite model: run `vigil models fetch`") from exc


def load(name: str, cache_dir: Path | None = None) -> GraphModel | TFLiteModel:
    """Load any cached model by name, verified against the manifest."""
    _, entry = verified_entry(name, cache_dir)
    if entry.format == "tflite":
        return load_tflite(name, cache_dir=cache_dir)
    return load_graph(name, cache_dir=cache_dir)


def configure_threads(intra_op: int, inter_op: int = 0) -> bool:
    """Set TF's thread pools (0 = TF's default). Only possible before TF first runs an op:
    returns False when it is too late, and the pools stay as they are."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError:
        return False
    return True
