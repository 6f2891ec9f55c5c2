from __future__ import annotations

from pathlib import Path

import pytest

from vigil.models import default_cache_dir, fetch_all


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The real model cache, fetched once (a no-op when `make setup` has filled it)."""
    fetch_all()
    return default_cache_dir()
