"""`vigil analyze`, `vigil train`, `vigil evaluate` (placeholder: being written)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(commands: Any) -> None:
    """Register the classify commands on the `vigil` sub-parsers; imports stay light."""
    del commands


def _unused(args: argparse.Namespace) -> int:
    return 0
