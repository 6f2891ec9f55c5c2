"""Running cached models: correct results from many threads at once, clear errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from vigil.models import GraphModel, ModelCorruptError, load_graph, load_tflite
from vigil.models.cache import ManifestEntry, sha256_of, write_manifest


def tiny_graph() -> GraphModel:
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def double_sum(x: tf.Tensor) -> tf.Tensor:
        return tf.identity(tf.reduce_sum(x * 2.0, axis=1), name="out")

    concrete = double_sum.get_concrete_function()
    return GraphModel(
        concrete.graph.as_graph_def(), [concrete.inputs[0].name], [concrete.outputs[0].name]
    )


def test_a_graph_model_gives_each_thread_its_own_answer() -> None:
    model = tiny_graph()
    inputs = [np.full((3, 4), i, np.float32) for i in range(32)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda x: model(x)[0], inputs))
    for i, result in enumerate(results):
        np.testing.assert_allclose(result, np.full(3, 8.0 * i))


def test_a_tflite_model_is_safe_to_share_between_threads(model_cache: Path) -> None:
    model = load_tflite("blazeface_short_range", cache_dir=model_cache)
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32) for _ in range(8)]
    expected = [model(x)[1] for x in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda x: model(x)[1], inputs * 3))
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, expected[i % len(inputs)])


def test_a_file_that_matches_the_manifest_but_is_no_graph_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "centernet.pb"
    path.write_bytes(b"\xff\xfe not a protobuf")
    write_manifest(
        tmp_path,
        {
            "centernet": ManifestEntry(
                path.name, sha256_of(path), "graphdef", ("a:0",), ("b:0",), "t"
            )
        },
    )
    with pytest.raises(ModelCorruptError, match="vigil models fetch"):
        load_graph("centernet", cache_dir=tmp_path)


def test_loading_a_model_in_the_wrong_runtime_is_refused(model_cache: Path) -> None:
    with pytest.raises(ValueError, match="not a graph"):
        load_graph("blazeface_short_range", cache_dir=model_cache)
    with pytest.raises(ValueError, match="not TFLite"):
        load_tflite("centernet", cache_dir=model_cache)
