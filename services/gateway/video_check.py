"""Is an uploaded file a whole video? Its first bytes name the container; OpenCV must open it and
decode its first frame and one near its end (a cut-off file keeps its header's frame count but
not the frames, or loses the index that MP4 keeps at its end)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

HEAD_BYTES = 377  # enough for every signature below (two MPEG-TS packets and a byte)


@dataclass(frozen=True)
class Container:
    name: str
    content_type: str


def sniff(head: bytes) -> Container | None:
    """The video container these first bytes start, or None when they start none we know."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return Container("quicktime" if brand == b"qt  " else "mp4",
                         "video/quicktime" if brand == b"qt  " else "video/mp4")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return Container("quicktime", "video/quicktime")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        kind = "webm" if b"webm" in head else "matroska"
        return Container(kind, "video/webm" if kind == "webm" else "video/x-matroska")
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return Container("avi", "video/x-msvideo")
    if head.startswith(b"FLV"):
        return Container("flv", "video/x-flv")
    if head.startswith(b"\x00\x00\x01\xba"):
        return Container("mpeg-ps", "video/mpeg")
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return Container("asf", "video/x-ms-asf")
    if head.startswith(b"OggS"):
        return Container("ogg", "video/ogg")
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:  # 188-byte packets
        return Container("mpeg-ts", "video/mp2t")
    return None


def decodes_whole(path: Path) -> bool:
    """True when the first frame and one near the end decode (blocking: run it in a thread)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return False
        ok, _ = capture.read()
        if not ok:
            return False
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count > 2:
            capture.set(cv2.CAP_PROP_POS_FRAMES, count - 2)
            ok, _ = capture.read()
        return bool(ok)
    finally:
        capture.release()
