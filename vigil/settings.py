"""All settings, typed and bounded, from `VIGIL_*` environment variables.

Nested sections use `__`: `VIGIL_BUS__KIND=kafka`, `VIGIL_DETECT__BACKEND=centernet_movenet`.
Unknown `VIGIL_*` keys are refused, so a typo fails at start-up instead of being ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.classify.config import ClassifyConfig
from services.detect.config import DetectConfig
from services.gateway.config import GatewayConfig
from services.ingest.config import IngestConfig
from services.repository.config import RepositoryConfig
from services.track.config import TrackConfig

# Environment variables of the tools around the services, not of the services themselves.
NOT_SETTINGS = {"VIGIL_DATA_DIR", "VIGIL_MODEL_DIR", "VIGIL_FEATURE_CACHE", "VIGIL_CI_LOGS"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BusSettings(_Section):
    kind: Literal["memory", "kafka"] = "memory"
    bootstrap_servers: str = "127.0.0.1:9092"
    partitions: int = Field(16, ge=1, le=4096, description="per topic; caps the parallelism")
    retention_records: int = Field(
        2000, ge=10, le=10_000_000, description="in-process bus: records kept per partition"
    )


class MongoSettings(_Section):
    url: str | None = Field(None, description="unset: start the embedded server in data_dir")
    database: str = "vigil"


class MediaSettings(_Section):
    kind: Literal["local", "s3"] = "local"
    endpoint: str = "127.0.0.1:9000"
    secure: bool = False
    access_key: str | None = None
    secret_key: SecretStr | None = None
    bucket: str = "vigil"
    region: str | None = None

    @model_validator(mode="after")
    def _s3_needs_credentials(self) -> MediaSettings:
        if self.kind == "s3" and (self.access_key is None or self.secret_key is None):
            raise ValueError(
                "media.kind=s3 needs VIGIL_MEDIA__ACCESS_KEY and VIGIL_MEDIA__SECRET_KEY"
            )
        return self


class RedisSettings(_Section):
    url: str | None = Field(None, description="unset: in-process fan-out and rate limits")


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_", env_nested_delimiter="__", extra="forbid"
    )

    state_dir: Path = Field(Path("data"), description="where `vigil run` keeps its data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    bus: BusSettings = BusSettings()
    mongo: MongoSettings = MongoSettings()
    media: MediaSettings = MediaSettings()
    redis: RedisSettings = RedisSettings()
    http: HttpSettings = HttpSettings()
    ingest: IngestConfig = IngestConfig()
    detect: DetectConfig = DetectConfig()
    track: TrackConfig = TrackConfig()
    classify: ClassifyConfig = ClassifyConfig()
    repository: RepositoryConfig = RepositoryConfig()
    gateway: GatewayConfig = GatewayConfig()

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_env(cls, data: object) -> object:
        known = {f"VIGIL_{name.upper()}" for name in cls.model_fields}
        unknown = sorted(
            key for key in os.environ
            if key.startswith("VIGIL_") and key.split("__")[0] not in known | NOT_SETTINGS
            and not key.startswith("VIGIL_TEST_")
        )
        if unknown:
            raise ValueError(f"unknown settings in the environment: {', '.join(unknown)}")
        return data


def dataset_dir() -> Path:
    """The shared datasets, read in place: `VIGIL_DATA_DIR`, default `../shared/data`."""
    return Path(os.environ.get("VIGIL_DATA_DIR", "../shared/data")).resolve()
