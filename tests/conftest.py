"""Session fixtures for the real servers: reuse the ones `.ci/run` started, else start our own."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import servers


def _server(
    name: str, start: Callable[[Path], servers.Server], tmp: pytest.TempPathFactory
) -> Iterator[str]:
    given = os.environ.get(servers.ENV[name])
    if given:
        yield given
        return
    server = start(tmp.mktemp(name))
    try:
        yield server.address
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server("kafka", servers.start_kafka, tmp_path_factory)


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server("mongo", servers.start_mongo, tmp_path_factory)


@pytest.fixture(scope="session")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server("s3", servers.start_s3, tmp_path_factory)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server("redis", servers.start_redis, tmp_path_factory)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared datasets, read in place (`VIGIL_DATA_DIR`, default ../shared/data)."""
    path = Path(os.environ.get("VIGIL_DATA_DIR", "../shared/data")).resolve()
    if not path.is_dir():
        pytest.fail(f"dataset folder {path} is missing: set VIGIL_DATA_DIR")
    return path
