import numpy as np
import pytest

from services.ingest.sampling import Sampler, expected_frames, frame_jpeg
from services.ingest.sources import parse_source
from vigil.errors import BadInput


@pytest.mark.parametrize(
    ("source_fps", "rate", "seconds", "kept"),
    [(30, 10, 3, 30), (25, 10, 2, 20), (20, 10, 2, 20), (12, 10, 2, 20), (8, 10, 2, 16),
     (10, 10, 1, 10), (60, 5, 2, 10)],
)
def test_sampler_keeps_the_analysis_rate(
    source_fps: int, rate: int, seconds: int, kept: int
) -> None:
    sampler = Sampler(rate)
    positions = [i / source_fps for i in range(source_fps * seconds)]
    assert sum(sampler.keep(p) for p in positions) == kept


def test_sampler_skips_a_gap_without_bursting() -> None:
    sampler = Sampler(10)
    assert sampler.keep(0.0)
    assert sampler.keep(5.0)  # a 5 s gap in the source
    assert not sampler.keep(5.05)
    assert sampler.keep(5.1)


@pytest.mark.parametrize(
    ("text", "kind", "location"),
    [("rtsp://cam/1", "stream", "rtsp://cam/1"), ("HTTP://x/y.mjpg", "stream", "HTTP://x/y.mjpg"),
     ("0", "webcam", "0"), ("webcam:2", "webcam", "2"), ("/v/a.mp4", "file", "/v/a.mp4")],
)
def test_parse_source(text: str, kind: str, location: str) -> None:
    spec = parse_source(text)
    assert (spec.kind, spec.location) == (kind, location)


def test_empty_source_is_refused() -> None:
    with pytest.raises(BadInput):
        parse_source("  ")


def test_encode_scales_down_wide_frames() -> None:
    image = np.full((1080, 1920, 3), 128, np.uint8)
    jpeg, width, height = frame_jpeg(image, 80, 1280)
    assert (width, height) == (1280, 720) and jpeg[:2] == b"\xff\xd8"


@pytest.mark.parametrize("image", [np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4), np.uint8)])
def test_encode_refuses_empty_frames(image: np.ndarray) -> None:
    with pytest.raises(BadInput):
        frame_jpeg(image, 80, 1280)


def test_expected_frames() -> None:
    assert expected_frames(2.9, 10) == 30
    assert expected_frames(0, 10) == 1
