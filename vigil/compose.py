"""Wiring: settings -> adapters -> services. The one place that knows every service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from vigil.bus import Bus, KafkaBus, MemoryBus
from vigil.docstore import client
from vigil.errors import ConfigError
from vigil.media import LocalMediaStore, MediaStore, S3MediaStore
from vigil.runtime.process import Service
from vigil.settings import Settings

SERVICE_NAMES = ("ingest", "detect", "track", "classify", "repository", "gateway")


def make_bus(settings: Settings) -> Bus:
    if settings.bus.kind == "kafka":
        return KafkaBus(settings.bus.bootstrap_servers, partitions=settings.bus.partitions)
    return MemoryBus(settings.bus.partitions, settings.bus.retention_records)


def make_media(settings: Settings) -> MediaStore:
    media = settings.media
    if media.kind == "s3":
        assert media.access_key is not None and media.secret_key is not None  # validated
        return S3MediaStore(media.endpoint, media.access_key, media.secret_key.get_secret_value(),
                            media.bucket, media.secure, media.region)
    return LocalMediaStore(Path(settings.state_dir) / "media")


@dataclass
class Runtime:
    """The adapters one process shares between its services."""

    settings: Settings
    bus: Bus
    media: MediaStore
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _mongo: AsyncMongoClient[dict[str, Any]] | None = None

    def database(self) -> AsyncDatabase[dict[str, Any]]:
        """The MongoDB database, one client per process."""
        if self._mongo is None:
            if self.settings.mongo.url is None:
                raise ConfigError(
                    "MongoDB is needed: set VIGIL_MONGO__URL (`vigil run` starts an embedded"
                    " server itself)"
                )
            self._mongo = client(self.settings.mongo.url)
            self.on_close.append(self._mongo.close)
        return self._mongo[self.settings.mongo.database]


def build_service(name: str, runtime: Runtime) -> Service:
    """Imports lazily: `vigil serve ingest` must not load TensorFlow."""
    settings = runtime.settings
    if name == "ingest":
        from services.ingest.service import IngestService

        return IngestService(runtime.bus, runtime.media, settings.ingest)
    if name == "detect":
        from services.detect.service import DetectService

        return DetectService(runtime.bus, settings.detect)
    if name == "track":
        from services.track.service import TrackService

        return TrackService(runtime.bus, settings.track)
    if name == "classify":
        from services.classify.service import ClassifyService

        return ClassifyService(runtime.bus, settings.classify)
    if name == "repository":
        from services.repository.service import RepositoryService

        return RepositoryService(
            runtime.bus, runtime.media, runtime.database(), settings.repository
        )
    if name == "gateway":
        from services.gateway.service import GatewayService
        from services.repository.store import EventStore

        events = EventStore(runtime.database(), runtime.media)
        return GatewayService(settings, runtime.bus, runtime.media, runtime.database(),
                              event_deleter=events.delete)
    raise NotImplementedError(f"the {name} service is not wired yet")
