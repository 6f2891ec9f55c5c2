"""What the deploy tests read: the rendered overlays, the Dockerfile, the compose file, and what
the code says (settings, probe paths, consumer groups, metric names), to check one against the
other."""

from __future__ import annotations

import functools
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.deploy import kustomize
from vigil import topics
from vigil.settings import Settings

Doc = dict[str, Any]

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "city", "city-cpu")
# The schemas the manifests are validated against (kubernetes-validate ships them per minor).
KUBERNETES_VERSION = "1.32.0"
SECRET_NAME = "vigil-secrets"
CODE_DIRS = (REPO / "vigil", REPO / "services")


# --- rendered manifests ----------------------------------------------------------------------

@dataclass(frozen=True)
class Rendered:
    """One overlay, rendered; look-ups by kind and name."""

    overlay: str
    docs: tuple[Doc, ...]

    def of_kind(self, kind: str) -> list[Doc]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def get(self, kind: str, name: str) -> Doc:
        found = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: expected one {kind} {name}, found {len(found)}"
        return found[0]

    @property
    def namespace(self) -> str:
        return str(self.get("Namespace", "vigil")["metadata"]["name"])

    def service_deployment(self, service: str) -> Doc:
        return self.get("Deployment", f"vigil-{service}")

    def kafka(self) -> Doc:
        (kafka,) = self.of_kind("Kafka")
        return kafka

    def common_setting(self, key: str) -> str:
        """A value of the ConfigMap every service reads (found through the ingest Deployment)."""
        container = single_container(self.service_deployment("ingest"))
        for source in container.get("envFrom", []):
            data = self.get("ConfigMap", source["configMapRef"]["name"]).get("data", {})
            if key in data:
                return str(data[key])
        raise KeyError(key)


@functools.cache
def render(overlay: str) -> Rendered:
    """The overlay through the real Kustomize where the machine has one, else the Python subset."""
    root = K8S / "overlays" / overlay
    command = kustomize.real_kustomize()
    docs = kustomize.build_with_real_kustomize(root, command) if command else kustomize.build(root)
    return Rendered(overlay, tuple(docs))


def single_container(workload: Doc) -> Doc:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(container)


def pod_labels(workload: Doc) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"]["labels"])


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """A label selector with matchLabels only (the manifests use no expressions)."""
    assert set(selector) <= {"matchLabels"}, f"selector outside the checked subset: {selector}"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


# --- secrets and environment -----------------------------------------------------------------

def example_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as `kubectl create secret --from-env-file` and compose read them."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


@dataclass
class ContainerEnv:
    """The environment a container starts with, and where each variable came from."""

    values: dict[str, str] = field(default_factory=dict)
    from_secret: set[str] = field(default_factory=set)
    secret_keys: set[str] = field(default_factory=set)


def container_env(rendered: Rendered, workload: Doc, image_env: dict[str, str]) -> ContainerEnv:
    """Image ENV, then envFrom, then env: the order in which Kubernetes lets one override another.
    Secret values come from secret.example.env, so a key missing there fails here."""
    secrets = example_env_file(K8S / "secret.example.env")
    container = single_container(workload)
    env = ContainerEnv(dict(image_env))
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"envFrom other than a ConfigMap: {source}"
        env.values.update(rendered.get("ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            env.values[name] = str(item["value"])
            continue
        reference = item["valueFrom"]
        if "secretKeyRef" in reference:
            secret = reference["secretKeyRef"]
            assert secret["name"] == SECRET_NAME, f"{name}: unknown Secret {secret['name']}"
            assert secret["key"] in secrets, f"{name}: {secret['key']} not in secret.example.env"
            env.values[name] = secrets[secret["key"]]
            env.from_secret.add(name)
            env.secret_keys.add(secret["key"])
        elif "configMapKeyRef" in reference:
            ref = reference["configMapKeyRef"]
            env.values[name] = rendered.get("ConfigMap", ref["name"])["data"][ref["key"]]
        else:
            env.values[name] = "from-the-downward-api"
    return env


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`Settings()` as the service would build it from exactly these VIGIL_* variables."""
    for key in list(os.environ):
        if key.startswith("VIGIL_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("VIGIL_"):
            monkeypatch.setenv(key, value)
    return Settings()


# --- the Dockerfile ----------------------------------------------------------------------------

@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [text for kind, text in self.instructions if kind == instruction]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for text in self.args("ENV"):
            for pair in shlex.split(text):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


def _logical_lines(text: str) -> Iterator[str]:
    """Instructions with their continuation lines and heredocs joined; comments dropped."""
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            following = next(lines)
            if not following.lstrip().startswith("#"):
                line = line[:-1] + " " + following.strip()
        heredoc = re.search(r"<<-?'?(\w+)'?", line)
        if heredoc:
            body = []
            for following in lines:
                if following.strip() == heredoc.group(1):
                    break
                body.append(following)
            line += "\n" + "\n".join(body)
        yield line


def dockerfile_stages(path: Path) -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages:
            name, _, default = rest.strip().partition("=")
            global_args[name] = default
        elif instruction == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else base
            stages.append(Stage(name, base))
        else:
            stages[-1].instructions.append((instruction, rest.strip()))
    return stages


# --- what the code says ------------------------------------------------------------------------

def code_files() -> list[Path]:
    return [
        path for directory in CODE_DIRS for path in directory.rglob("*.py")
        if "node_modules" not in path.parts and "v1" not in path.relative_to(directory).parts[:1]
    ]


_METRIC = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*[\"'](vigil_[a-z0-9_]+)[\"']")


def defined_metrics() -> dict[str, str]:
    """Exported metric name (a counter gets `_total`) -> its type, from the code's definitions."""
    found: dict[str, str] = {}
    for path in code_files():
        for kind, name in _METRIC.findall(path.read_text()):
            if kind == "Counter" and not name.endswith("_total"):
                name += "_total"
            found[name] = kind
    return found


_CONSUME = re.compile(r"topic=topics\.([A-Z_]+),\s*group=(f?)[\"']([^\"']+)[\"']")


def consume_loops(service: str) -> set[tuple[str, str]]:
    """(consumer group, topic name) of every consume loop in services/<service>/."""
    loops = set()
    for path in (REPO / "services" / service).rglob("*.py"):
        for constant, is_template, group in _CONSUME.findall(path.read_text()):
            if not is_template:  # a per-replica group (f-string) is no group to scale on
                loops.add((group, getattr(topics, constant).name))
    return loops


# --- PromQL ------------------------------------------------------------------------------------

# Grafana's variables, replaced by something PromQL accepts before parsing.
_GRAFANA_VARIABLES = {
    "$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "${datasource}": "",
}


def promql_from_grafana(expr: str) -> str:
    for variable, value in _GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)  # a dashboard variable inside a matcher


def metric_names(expr: str) -> set[str]:
    """Every metric a PromQL expression selects, from its syntax tree."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(matcher.value)
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, promql_parser.AggregateExpr):
            walk(node.expr)
            if node.param is not None:
                walk(node.param)
        elif isinstance(node, promql_parser.Call):
            for argument in node.args:
                walk(argument)
        elif isinstance(node, (promql_parser.ParenExpr, promql_parser.UnaryExpr,
                               promql_parser.SubqueryExpr)):
            walk(node.expr)

    walk(promql_parser.parse(expr))
    return names


HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def exported_family(name: str) -> tuple[str, str | None]:
    """`vigil_x_bucket` -> (`vigil_x`, `_bucket`): the family a series belongs to."""
    for suffix in HISTOGRAM_SERIES:
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, None


def dashboard() -> Doc:
    import json

    return dict(json.loads((DEPLOY / "grafana" / "vigil-dashboard.json").read_text()))


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target; variable queries are not PromQL (label_values)."""
    found = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", promql_from_grafana(target["expr"])))
    return found


def variable_metrics() -> list[tuple[str, str]]:
    """(variable, metric) for every `label_values(metric, label)` query of the dashboard."""
    found = []
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        match = re.fullmatch(r"label_values\((\w+)\s*,\s*\w+\)", query)
        assert match, f"variable {variable['name']}: unexpected query {query}"
        found.append((variable["name"], match.group(1)))
    return found


def alert_rules() -> list[Doc]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alert_expressions() -> list[tuple[str, str]]:
    return [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]
