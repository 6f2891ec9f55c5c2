"""The Dockerfile and the single-machine compose file, read statically. `make image` builds and
checks the image itself (docs/operations.md); the compose file needs registry images to start."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy.manifests import (
    DEPLOY,
    Stage,
    dockerfile_stages,
    example_env_file,
    settings_from,
)
from vigil.compose import SERVICE_NAMES

BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "nodejs", "npm", "cmake", "clang")
SERVERS = ("kafka", "mongodb", "minio", "redis", "prometheus", "grafana")


def _stages() -> list[Stage]:
    return dockerfile_stages(DEPLOY / "docker" / "Dockerfile")


def test_final_image_is_slim_non_root_without_build_tools() -> None:
    *_, runtime = _stages()
    assert re.fullmatch(r"python:3\.11[\d.]*-slim(-\w+)?", runtime.base), runtime.base
    (user,) = runtime.args("USER")
    assert user.split(":")[0] not in {"root", "0"}
    installs = " ".join(runtime.args("RUN"))
    assert not [tool for tool in BUILD_TOOLS if re.search(rf"install\b.*\b{tool}\b", installs)]
    copied_from = {re.search(r"--from=(\S+)", c).group(1)  # type: ignore[union-attr]
                   for c in runtime.args("COPY") if "--from=" in c}
    assert copied_from == {"builder"}, "only the built venv, app and models reach the image"


def test_dockerfile_needs_no_frontend_image() -> None:
    """A `# syntax=` line makes BuildKit pull its frontend from a registry, and heredocs need such
    a frontend on Docker before 23: the image must build where no image registry is reachable."""
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    lines = {line.strip() for line in text.splitlines()}
    heredocs = [w for w in re.findall(r"<<-?\s*[\"']?(\w+)", text) if w in lines]
    assert not heredocs


def test_entry_point_serves_one_service_with_a_health_check() -> None:
    *_, runtime = _stages()
    assert runtime.args("ENTRYPOINT") == ['["vigil", "serve"]']
    (cmd,) = runtime.args("CMD")
    assert yaml.safe_load(cmd)[0] in SERVICE_NAMES
    (check,) = runtime.args("HEALTHCHECK")
    assert "/healthz" in check
    env = runtime.env()
    assert runtime.args("EXPOSE") == [env["VIGIL_HTTP__PORT"]]
    assert env["VIGIL_HTTP__HOST"] == "0.0.0.0"


def test_builder_makes_the_ui_the_code_and_the_models() -> None:
    stages = {stage.name: stage for stage in _stages()}
    assert "npm run build" in " ".join(stages["web"].args("RUN"))
    builder = " ".join(stages["builder"].args("RUN"))
    assert "vigil models fetch" in builder
    assert "grpc_tools.protoc" in builder
    assert stages["builder"].env()["VIGIL_MODEL_DIR"] == stages["runtime"].env()["VIGIL_MODEL_DIR"]


def test_image_env_is_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    *_, runtime = _stages()
    settings = settings_from(runtime.env(), monkeypatch)
    assert str(settings.state_dir) == runtime.env()["VIGIL_STATE_DIR"]


def _compose() -> dict[str, object]:
    return dict(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text()))


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:?message}` and `$$`, from the example env file."""
    def one(match: re.Match[str]) -> str:
        return env[match.group(1)]

    return re.sub(r"\$\{(\w+)(?::?[?-][^}]*)?\}", one, value).replace("$$", "$")


def test_compose_runs_every_service_and_server() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    assert set(SERVICE_NAMES) | set(SERVERS) == set(services)
    for name in SERVICE_NAMES:
        assert services[name]["command"] == [name]
        assert services[name]["build"]["dockerfile"] == "deploy/docker/Dockerfile"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_compose_settings_are_real_and_reach_the_servers(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    env = example_env_file(DEPLOY / "compose.example.env")
    values = {k: _interpolate(str(v), env) for k, v in services[service]["environment"].items()}
    settings = settings_from(values, monkeypatch)
    assert settings.bus.kind == "kafka"
    assert settings.bus.bootstrap_servers.split(":")[0] in services
    assert settings.http.host == "0.0.0.0"
    depends = set(services[service]["depends_on"])
    assert "kafka" in depends
    if settings.media.kind == "s3":
        assert settings.media.endpoint.split(":")[0] == "minio" and "minio" in depends
    if settings.mongo.url:
        assert "@mongodb:" in settings.mongo.url and "mongodb" in depends
    if settings.redis.url:
        assert "@redis:" in settings.redis.url and "redis" in depends


def test_compose_prometheus_scrapes_all_six_and_loads_the_alerts() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets == {f"vigil-{s}": [f"{s}:8000"] for s in SERVICE_NAMES}
    services = _compose()["services"]
    assert isinstance(services, dict)
    mounts = services["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    grafana = " ".join(services["grafana"]["volumes"])
    assert "./grafana/vigil-dashboard.json:" in grafana and "./grafana/provisioning:" in grafana
