"""Container signatures, and whether OpenCV decodes a file from its start to its end."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from services.gateway.video_check import decodes_whole, sniff


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"\x00\x00\x00\x18ftypmp42\x00\x00", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00", "quicktime"),
        (b"\x00\x00\x00\x08wide\x00\x00", "quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "matroska"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
        (b"FLV\x01\x05", "flv"),
        (b"\x00\x00\x01\xba\x44", "mpeg-ps"),
        (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9", "asf"),
        (b"OggS\x00\x02", "ogg"),
        ((b"\x47" + bytes(187)) * 2 + b"\x47", "mpeg-ts"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"\x89PNG\r\n\x1a\n", None),
        (b"GIF89a" + bytes(400), None),
        (b"hello, world", None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, name: str | None) -> None:
    found = sniff(head)
    assert (found.name if found else None) == name


@pytest.fixture(scope="module")
def avi(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "noise.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(20):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("cut", "whole"),
    [(1.0, True), (0.5, False), (0.1, False)],
)
def test_decodes_whole_avi(avi: bytes, tmp_path: Path, cut: float, whole: bool) -> None:
    path = tmp_path / "cut.avi"
    path.write_bytes(avi[: int(len(avi) * cut)])  # the header keeps the full frame count
    assert decodes_whole(path) is whole


@pytest.mark.parametrize(("cut", "whole"), [(1.0, True), (0.9, False)])
def test_decodes_whole_mp4(data_dir: Path, tmp_path: Path, cut: float, whole: bool) -> None:
    clip = (data_dir / "surveillance-fight" / "fight" / "fi005.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(clip[: int(len(clip) * cut)])  # its index is at the end
    assert decodes_whole(path) is whole
