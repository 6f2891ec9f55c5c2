"""Where an event's media live in the media store: everything under `events/{event_id}/`.

    events/{id}/clip-000.mp4                  clip parts in time order (.webm with VP9)
    events/{id}/poster.jpg                    the first violent frame
    events/{id}/culprits/{track}/crop.jpg     a culprit's best picture
    events/{id}/culprits/{track}/face.jpg     the face found in it (absent: no face found)

Keys are made from the event id alone, so a replayed event writes the same keys (idempotent),
and deleting an event is deleting its prefix. An id that could step out of its own folder is
refused.
"""

from __future__ import annotations

import re

from vigil.errors import BadInput

EVENTS_PREFIX = "events/"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_event_id(event_id: str) -> str:
    """The id, if it is one path segment of safe characters (uuids are)."""
    if not _SAFE_ID.fullmatch(event_id):
        raise BadInput(f"invalid event id {event_id!r}")
    return event_id


def event_prefix(event_id: str) -> str:
    return f"{EVENTS_PREFIX}{check_event_id(event_id)}/"


def clip_part_key(event_id: str, part: int, suffix: str) -> str:
    return f"{event_prefix(event_id)}clip-{part:03d}{suffix}"


def poster_key(event_id: str) -> str:
    return f"{event_prefix(event_id)}poster.jpg"


def crop_key(event_id: str, track_id: int) -> str:
    return f"{event_prefix(event_id)}culprits/{track_id}/crop.jpg"


def face_key(event_id: str, track_id: int) -> str:
    return f"{event_prefix(event_id)}culprits/{track_id}/face.jpg"
