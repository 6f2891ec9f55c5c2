import numpy as np
import pytest

from services.track.deepsort.appearance import Gallery, nearest_cosine_distance, normalise_rows


def test_gallery_keeps_only_the_most_recent() -> None:
    gallery = Gallery(size=2)
    for value in (1.0, 2.0, 3.0):
        gallery.add(np.array([value, 0.0]))
    assert sorted(gallery.as_array()[:, 0].tolist()) == [2.0, 3.0]


def test_nearest_cosine_distance_is_minimum_over_gallery() -> None:
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]])
    embeddings = np.array([[1.0, 0.0], [-1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    np.testing.assert_allclose(
        nearest_cosine_distance(gallery, embeddings), [0.0, 1.0, 1 - np.sqrt(0.5)]
    )


def test_empty_gallery_means_unknown_appearance() -> None:
    assert np.isnan(nearest_cosine_distance(np.zeros((0, 2)), np.ones((3, 2)))).all()


@pytest.mark.parametrize(
    ("row", "valid"),
    [([3.0, 4.0], True), ([0.0, 0.0], False), ([np.nan, 1.0], False), ([np.inf, 1.0], False)],
)
def test_normalise_rows_flags_unusable_rows(row: list[float], valid: bool) -> None:
    normalised, ok = normalise_rows(np.array([row]))
    assert bool(ok[0]) is valid
    if valid:
        assert np.linalg.norm(normalised[0]) == pytest.approx(1.0)
