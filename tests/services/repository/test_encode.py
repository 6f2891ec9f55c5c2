from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from services.repository.config import RepositoryConfig, VideoCodec
from services.repository.encode import ClipWriter, clip_suffix


def synthetic_frame(index: int, width: int = 640, height: int = 360) -> np.ndarray:
    """A moving gradient with a bright square: motion the encoder has to follow."""
    xs = np.linspace(0, 255, width, dtype=np.float32)
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    base = (xs[None, :] * 0.5 + ys * 0.5 + index * 4) % 256
    frame = np.stack([base, np.roll(base, index * 3, axis=1), 255 - base], axis=2).astype(np.uint8)
    x = (index * 11) % (width - 40)
    frame[100:140, x : x + 40] = 255
    return frame


def top_level_boxes(data: bytes) -> list[str]:
    """The ISO-BMFF box types at the top of an MP4 file, in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("ascii")
        if size == 1:  # 64-bit size follows the type
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        boxes.append(kind)
        if size == 0:
            break  # box runs to the end of the file
        offset += size
    return boxes


def decode(path: Path) -> tuple[int, int, int, str, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert container.duration is not None
        duration_s = container.duration / av.time_base
        return len(frames), frames[0].width, frames[0].height, stream.codec_context.name, duration_s


@pytest.mark.parametrize(
    ("codec", "decoder", "mime"), [("h264", "h264", "video/mp4"), ("vp9", "vp9", "video/webm")]
)
def test_two_seconds_encode_and_decode_back(
    tmp_path: Path, codec: VideoCodec, decoder: str, mime: str
) -> None:
    fps, seconds = 15.0, 2.0
    path = tmp_path / f"clip{clip_suffix(codec)}"
    writer = ClipWriter(path, fps, 640, 360, codec=codec)
    count = int(fps * seconds)
    for i in range(count):
        writer.write(synthetic_frame(i))
    info = writer.close()

    frames, width, height, name, duration_s = decode(path)
    assert (frames, width, height, name) == (count, 640, 360, decoder)
    assert duration_s == pytest.approx(seconds, abs=1.5 / fps)
    assert (info.frames, info.width, info.height, info.codec, info.mime_type) == (
        count, 640, 360, codec, mime,
    )  # fmt: skip
    assert info.duration_s == pytest.approx(seconds)
    assert info.bytes == path.stat().st_size > 0


def test_mp4_has_moov_before_mdat(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with ClipWriter(path, 10.0, 320, 180) as writer:
        for i in range(20):
            writer.write(synthetic_frame(i, 320, 180))
    boxes = top_level_boxes(path.read_bytes())
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat")


@pytest.mark.parametrize(
    ("clip_size", "frame_size", "expected"),
    [
        ((321, 181), (321, 181), (320, 180)),  # odd sides: yuv420p needs even ones
        ((320, 180), (640, 360), (320, 180)),  # larger frames are scaled down
        ((320, 180), (161, 91), (320, 180)),  # smaller frames are scaled up
    ],
)
def test_frames_are_fitted_to_an_even_clip_size(
    tmp_path: Path,
    clip_size: tuple[int, int],
    frame_size: tuple[int, int],
    expected: tuple[int, int],
) -> None:
    path = tmp_path / "clip.mp4"
    writer = ClipWriter(path, 10.0, *clip_size)
    for i in range(5):
        writer.write(synthetic_frame(i, *frame_size))
    info = writer.close()
    assert (info.width, info.height) == expected
    assert decode(path)[1:3] == expected


def test_fractional_rate_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    writer = ClipWriter(path, 30000 / 1001, 64, 48)
    for i in range(30):
        writer.write(synthetic_frame(i, 64, 48))
    info = writer.close()
    assert info.fps == pytest.approx(29.97, abs=1e-3)
    with av.open(str(path)) as container:
        assert float(container.streams.video[0].average_rate or 0) == pytest.approx(29.97, abs=0.01)


def test_encoder_options_reach_the_file(tmp_path: Path) -> None:
    sizes = []
    for crf in (18, 40):
        path = tmp_path / f"crf{crf}.mp4"
        writer = ClipWriter(path, 10.0, 320, 180, config=RepositoryConfig(h264_crf=crf))
        for i in range(10):
            writer.write(synthetic_frame(i, 320, 180))
        sizes.append(writer.close().bytes)
    assert sizes[0] > sizes[1]


def test_misuse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps"):
        ClipWriter(tmp_path / "zero.mp4", 0.0, 64, 48)
    writer = ClipWriter(tmp_path / "clip.mp4", 10.0, 64, 48)
    with pytest.raises(ValueError, match="BGR"):
        writer.write(np.zeros((48, 64), np.uint8))
    writer.write(synthetic_frame(0, 64, 48))
    writer.close()
    with pytest.raises(RuntimeError):
        writer.write(synthetic_frame(1, 64, 48))
    with pytest.raises(RuntimeError):
        writer.close()


def test_failure_inside_the_context_removes_the_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with pytest.raises(KeyError), ClipWriter(path, 10.0, 64, 48) as writer:
        writer.write(synthetic_frame(0, 64, 48))
        raise KeyError("boom")
    assert not path.exists()


PLAYER_PAGE = """<html><body><div id="out">pending</div><script>
const v = document.createElement('video');
v.muted = true;
const done = text => { document.getElementById('out').textContent = text; };
v.onerror = () => done('error ' + (v.error && v.error.code));
v.ontimeupdate = () => {
  if (v.currentTime > 0.5) done('played ' + v.videoWidth + 'x' + v.videoHeight);
};
v.src = '%s';
document.body.appendChild(v);
v.play().catch(e => done('rejected ' + e));
</script></body></html>"""


@pytest.mark.browser
@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_clip_plays_in_headless_chromium(tmp_path: Path, codec: VideoCodec) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed")
    clip = tmp_path / f"clip{clip_suffix(codec)}"
    writer = ClipWriter(clip, 10.0, 320, 180, codec=codec)
    for i in range(20):
        writer.write(synthetic_frame(i, 320, 180))
    writer.close()
    page = tmp_path / "page.html"
    page.write_text(PLAYER_PAGE % clip.name)
    result = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files",
            "--virtual-time-budget=10000", "--dump-dom", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert '<div id="out">played 320x180</div>' in result.stdout
