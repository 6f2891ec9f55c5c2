"""HTTP byte ranges, as `<video>` asks for them."""

from __future__ import annotations

import pytest

from services.gateway.media_http import ByteRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("", 100, None),
        ("bytes=0-", 100, ByteRange(0, 99)),
        ("bytes=0-0", 100, ByteRange(0, 0)),
        ("bytes=10-19", 100, ByteRange(10, 19)),
        ("bytes=90-500", 100, ByteRange(90, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-500", 100, ByteRange(0, 99)),
        ("Bytes = 5 - 6", 100, ByteRange(5, 6)),
        ("bytes=20-10", 100, None),  # invalid: ignored, the whole object
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole object
        ("items=0-1", 100, None),
        ("bytes=abc", 100, None),
        ("bytes=-", 100, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100),
                                              ("bytes=0-", 0), ("bytes=-5", 0)])
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


def test_length_counts_both_ends() -> None:
    assert ByteRange(10, 19).length == 10
