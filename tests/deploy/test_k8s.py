"""The Kubernetes manifests: valid for the stated Kubernetes version, and in agreement with the
code they deploy (settings, ports, probe paths, topics, consumer groups, who talks to whom)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy import crd_schemas
from tests.deploy.manifests import (
    DEPLOY,
    K8S,
    KUBERNETES_VERSION,
    OVERLAYS,
    REPO,
    Doc,
    Rendered,
    consume_loops,
    container_env,
    dockerfile_stages,
    pod_labels,
    render,
    selects,
    settings_from,
    single_container,
)
from vigil import topics
from vigil.compose import SERVICE_NAMES
from vigil.runtime import metrics
from vigil.runtime.process import probes_router
from vigil.settings import Settings

# What each service's code reaches beyond Kafka (vigil/compose.py wires the bus and the media
# store; the repository and the gateway open MongoDB; the gateway's live fan-out and rate limits
# use Redis; ingest opens cameras outside the cluster).
NEEDS: dict[str, set[str]] = {
    "ingest": {"media", "cameras"},
    "detect": set(),
    "track": set(),
    "classify": set(),
    "repository": {"mongo", "media"},
    "gateway": {"mongo", "media", "redis", "jwt"},
}
LAG_SCALED = ("detect", "track", "classify")
CRD_GROUPS = {"kafka.strimzi.io", "keda.sh", "monitoring.coreos.com"}


@pytest.fixture(params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(request.param)


def _image_env() -> dict[str, str]:
    return dockerfile_stages(DEPLOY / "docker" / "Dockerfile")[-1].env()


def _settings(rendered: Rendered, service: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    env = container_env(rendered, rendered.service_deployment(service), _image_env())
    return settings_from(env.values, monkeypatch)


# --- schemas -------------------------------------------------------------------------------------

def test_every_manifest_is_valid_for_the_kubernetes_version(rendered: Rendered) -> None:
    for doc in rendered.docs:
        group = doc["apiVersion"].rpartition("/")[0]
        where = f"{rendered.overlay}: {doc['kind']} {doc['metadata']['name']}"
        if group in CRD_GROUPS:
            schema = crd_schemas.BY_API.get((doc["apiVersion"], doc["kind"]))
            assert schema is not None, f"{where}: no schema for {doc['apiVersion']}"
            errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
            assert not errors, f"{where}: {errors}"
        else:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{where}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(livenessProb={}),
        lambda d: d["spec"].update(replicas="two"),
    ],
    ids=["misspelt-field", "wrong-type"],
)
def test_schema_validation_rejects_a_broken_deployment(mutate: Any) -> None:
    deployment = json.loads(json.dumps(render("dev").service_deployment("ingest")))
    mutate(deployment)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_crd_schema_rejects_a_topic_without_partitions() -> None:
    topic = json.loads(json.dumps(render("dev").get("KafkaTopic", "frames")))
    del topic["spec"]["partitions"]
    schema = crd_schemas.BY_API[(topic["apiVersion"], "KafkaTopic")]
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(topic))


def test_both_overlays_render_every_service_and_server(rendered: Rendered) -> None:
    for service in SERVICE_NAMES:
        rendered.service_deployment(service)
        rendered.get("Service", f"vigil-{service}")
        rendered.get("ServiceMonitor", f"vigil-{service}")
    for name in ("vigil-mongodb", "vigil-minio"):
        statefulset = rendered.get("StatefulSet", name)
        assert statefulset["spec"]["volumeClaimTemplates"], f"{name} keeps no volume"
    rendered.get("Deployment", "vigil-redis")
    rendered.get("Ingress", "vigil-gateway")
    assert {doc["metadata"].get("namespace") for doc in rendered.docs if doc["kind"] != "Namespace"
            } == {rendered.namespace}


# --- settings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_settings_of_every_deployment_are_real_and_complete(
    rendered: Rendered, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = container_env(rendered, rendered.service_deployment(service), _image_env())
    settings = settings_from(env.values, monkeypatch)  # an unknown VIGIL_ variable raises here
    kafka = rendered.kafka()
    listener = kafka["spec"]["kafka"]["listeners"][0]
    assert settings.bus.kind == "kafka"
    assert settings.bus.bootstrap_servers == (
        f"{kafka['metadata']['name']}-kafka-bootstrap:{listener['port']}"
    )
    assert settings.http.host == "0.0.0.0"
    needs = NEEDS[service]
    secret_settings = {
        "media": {"VIGIL_MEDIA__ACCESS_KEY", "VIGIL_MEDIA__SECRET_KEY"},
        "mongo": {"VIGIL_MONGO__URL"},
        "redis": {"VIGIL_REDIS__URL"},
        "jwt": {"VIGIL_GATEWAY__JWT_SECRET"},
    }
    # Credentials come from the Secret, and only to the services that use them.
    expected_secrets = set().union(*(secret_settings[n] for n in needs if n in secret_settings))
    assert env.from_secret == expected_secrets
    if "media" in needs:
        assert settings.media.kind == "s3"
        _assert_points_at(rendered, f"http://{settings.media.endpoint}", "minio")
    if "mongo" in needs:
        assert settings.mongo.url is not None
        _assert_points_at(rendered, settings.mongo.url, "mongodb")
    if "redis" in needs:
        assert settings.redis.url is not None
        _assert_points_at(rendered, settings.redis.url, "redis")
    if "jwt" in needs:
        assert settings.gateway.jwt_secret is not None
    # The root filesystem is read-only: the state folder must be a mounted volume.
    container = single_container(rendered.service_deployment(service))
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(settings.state_dir) in mounts


def _assert_points_at(rendered: Rendered, url: str, server: str) -> None:
    """The URL's host:port is a Service of this namespace that selects the server's pods."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    service = rendered.get("Service", host.split(".")[0])
    workloads = rendered.of_kind("StatefulSet") + rendered.of_kind("Deployment")
    targets = [w for w in workloads if selects({"matchLabels": service["spec"]["selector"]},
                                               pod_labels(w))]
    assert [pod_labels(w)["app.kubernetes.io/name"] for w in targets] == [server], url
    assert parts.port in {p["port"] for p in service["spec"]["ports"]}, url


def test_settings_check_refuses_an_unknown_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = render("dev")
    env = container_env(rendered, rendered.service_deployment("track"), _image_env())
    with pytest.raises(ValueError, match="no_such_setting"):
        settings_from(env.values | {"VIGIL_TRACK__NO_SUCH_SETTING": "1"}, monkeypatch)


def test_detect_threads_fit_its_cpu_limit(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(rendered, "detect", monkeypatch)
    limit = single_container(rendered.service_deployment("detect"))["resources"]["limits"]["cpu"]
    assert 0 < settings.detect.intra_op_threads <= float(limit)


def test_gpu_detect_only_in_the_gpu_overlay(rendered: Rendered) -> None:
    pod = rendered.service_deployment("detect")["spec"]["template"]["spec"]
    limits = pod["containers"][0]["resources"]["limits"]
    if rendered.overlay == "city":
        assert limits["nvidia.com/gpu"] == 1
        assert pod["nodeSelector"] and pod["tolerations"][0]["key"] == "nvidia.com/gpu"
        assert pod["containers"][0]["image"].endswith("-gpu")
    else:
        assert "nvidia.com/gpu" not in limits and "nodeSelector" not in pod


# --- ports, probes, termination ------------------------------------------------------------------

def test_probe_paths_are_the_runtime_routes() -> None:
    paths = {getattr(route, "path", None) for route in probes_router([]).routes}
    assert {"/healthz", "/readyz", "/metrics"} <= paths


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_ports_and_probes_match_the_process(
    rendered: Rendered, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(rendered, service, monkeypatch)
    deployment = rendered.service_deployment(service)
    pod = deployment["spec"]["template"]
    container = single_container(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": settings.http.port}
    assert container["args"] == [service]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    if "startupProbe" in container:
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.http.port)
    assert annotations["prometheus.io/path"] == "/metrics"
    kube_service = rendered.get("Service", f"vigil-{service}")
    assert selects({"matchLabels": kube_service["spec"]["selector"]}, pod_labels(deployment))
    service_ports = [(p["name"], p["targetPort"]) for p in kube_service["spec"]["ports"]]
    assert service_ports == [("http", "http")]
    monitor = rendered.get("ServiceMonitor", f"vigil-{service}")
    assert selects(monitor["spec"]["selector"], kube_service["metadata"]["labels"])
    assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [("http", "/metrics")]


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_termination_grace_outlasts_the_drain(rendered: Rendered, service: str) -> None:
    """SIGTERM finishes the batch in hand and commits: the grace period must cover the longest
    batch the handling-time histogram expects (its top bucket), after the preStop pause."""
    pod = rendered.service_deployment(service)["spec"]["template"]["spec"]
    # prometheus_client keeps a histogram's buckets here; no public accessor without a child
    longest_batch = max(b for b in metrics.HANDLE_SECONDS._upper_bounds if b != float("inf"))
    pre_stop = pod["containers"][0].get("lifecycle", {}).get("preStop", {}).get("sleep", {})
    assert pod["terminationGracePeriodSeconds"] > 30  # Kubernetes' default
    assert pod["terminationGracePeriodSeconds"] >= 2 * longest_batch + pre_stop.get("seconds", 0)


# --- Kafka topics and autoscaling ----------------------------------------------------------------

def test_topics_are_the_codes_with_the_configured_partitions(rendered: Rendered) -> None:
    kafka_name = rendered.kafka()["metadata"]["name"]
    declared = {t["spec"]["topicName"]: t for t in rendered.of_kind("KafkaTopic")}
    assert set(declared) == {topic.name for topic in topics.ALL}
    partitions = int(rendered.common_setting("VIGIL_BUS__PARTITIONS"))
    brokers = sum(
        pool["spec"]["replicas"] for pool in rendered.of_kind("KafkaNodePool")
        if "broker" in pool["spec"]["roles"]
    )
    for name, topic in declared.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka_name, name
        assert topic["spec"]["partitions"] == partitions, name
        assert topic["spec"]["replicas"] <= brokers, name
        min_insync = int(topic["spec"].get("config", {}).get("min.insync.replicas", 1))
        assert min_insync <= topic["spec"]["replicas"], name
    config = rendered.kafka()["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] <= brokers
    assert config["auto.create.topics.enable"] is False


def test_foundation_phase_is_kafka_and_its_topics(rendered: Rendered) -> None:
    """Applied first (docs/operations.md): the topics must exist, with their partitions and
    replicas, before a service could create one with the client's defaults."""
    foundation = {
        doc["kind"] for doc in rendered.docs
        if doc["metadata"].get("labels", {}).get("vigil.io/phase") == "foundation"
    }
    kinds_needed = {"Namespace", "Kafka", "KafkaNodePool", "KafkaTopic"}
    assert foundation == kinds_needed
    for kind in kinds_needed:
        for doc in rendered.of_kind(kind):
            assert doc["metadata"]["labels"]["vigil.io/phase"] == "foundation", doc["metadata"]


def test_city_is_sized_beyond_dev() -> None:
    dev, city = render("dev"), render("city")
    assert int(city.common_setting("VIGIL_BUS__PARTITIONS")) > int(
        dev.common_setting("VIGIL_BUS__PARTITIONS"))
    for name in ("vigil-detect", "vigil-track", "vigil-classify"):
        assert (city.get("ScaledObject", name)["spec"]["maxReplicaCount"]
                > dev.get("ScaledObject", name)["spec"]["maxReplicaCount"])


@pytest.mark.parametrize("service", LAG_SCALED)
def test_lag_autoscaling_follows_the_codes_consumer_group(rendered: Rendered, service: str) -> None:
    scaled = rendered.get("ScaledObject", f"vigil-{service}")
    target = rendered.get("Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    assert pod_labels(target)["app.kubernetes.io/component"] == service
    assert "replicas" not in target["spec"], "the autoscaler owns the replica count"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert (metadata["consumerGroup"], metadata["topic"]) in consume_loops(service)
    listener = rendered.kafka()["spec"]["kafka"]["listeners"][0]
    assert metadata["bootstrapServers"] == (
        f"{rendered.kafka()['metadata']['name']}-kafka-bootstrap.{rendered.namespace}.svc:"
        f"{listener['port']}"
    )
    partitions = int(rendered.common_setting("VIGIL_BUS__PARTITIONS"))
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] <= partitions


def test_consume_loop_parser_finds_the_known_groups() -> None:
    assert ("detect", "frames") in consume_loops("detect")
    assert ("track", "detections") in consume_loops("track")


def test_gateway_scales_on_cpu(rendered: Rendered) -> None:
    hpa = rendered.get("HorizontalPodAutoscaler", "vigil-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "vigil-gateway"}
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert "replicas" not in rendered.service_deployment("gateway")["spec"]
    ingress = rendered.get("Ingress", "vigil-gateway")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "vigil-gateway", "port": {"name": "http"}}


# --- network policies ----------------------------------------------------------------------------

def _peer_names(rendered: Rendered, peer: Doc) -> set[str]:
    """What a NetworkPolicy peer reaches, by name: a server, a service, dns, or the outside."""
    if "ipBlock" in peer:
        return {"outside"}
    if "namespaceSelector" in peer:
        namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        return {"dns" if namespace == "kube-system" else f"namespace:{namespace}"}
    names = set()
    kafka_pods = {"strimzi.io/cluster": rendered.kafka()["metadata"]["name"],
                  "strimzi.io/kind": "Kafka"}
    if selects(peer["podSelector"], kafka_pods):
        names.add("kafka")
    for workload in rendered.of_kind("Deployment") + rendered.of_kind("StatefulSet"):
        labels = pod_labels(workload)
        if selects(peer["podSelector"], labels):
            names.add(labels.get("app.kubernetes.io/component", labels["app.kubernetes.io/name"])
                      if labels["app.kubernetes.io/name"] == "vigil"
                      else labels["app.kubernetes.io/name"])
    return names


def _allowed(rendered: Rendered, labels: dict[str, str], direction: str) -> set[str]:
    allowed: set[str] = set()
    side = "to" if direction == "egress" else "from"
    for policy in rendered.of_kind("NetworkPolicy"):
        if selects(policy["spec"]["podSelector"], labels):
            for rule in policy["spec"].get(direction, []):
                for peer in rule[side]:
                    allowed |= _peer_names(rendered, peer)
    return allowed


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_service_reaches_only_what_its_settings_use(
    rendered: Rendered, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(rendered, service, monkeypatch)
    labels = pod_labels(rendered.service_deployment(service))
    expected = {"dns", "kafka"}
    expected |= {"minio"} if settings.media.kind == "s3" else set()
    expected |= {"mongodb"} if settings.mongo.url else set()
    expected |= {"redis"} if settings.redis.url else set()
    expected |= {"outside"} if "cameras" in NEEDS[service] else set()
    assert _allowed(rendered, labels, "egress") == expected
    closed = [p for p in rendered.of_kind("NetworkPolicy")
              if selects(p["spec"]["podSelector"], labels)
              and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
              and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert closed, f"{service}: no default-deny policy selects it"
    inbound = {"namespace:monitoring"} | ({"namespace:ingress-nginx"} if service == "gateway"
                                          else set())
    assert _allowed(rendered, labels, "ingress") == inbound


@pytest.mark.parametrize(
    ("server", "uses"),
    [
        ("mongodb", lambda s: s.mongo.url is not None),
        ("minio", lambda s: s.media.kind == "s3"),
        ("redis", lambda s: s.redis.url is not None),
    ],
)
def test_servers_admit_exactly_their_clients(
    rendered: Rendered, server: str, uses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = {s for s in SERVICE_NAMES if uses(_settings(rendered, s, monkeypatch))}
    workloads = rendered.of_kind("Deployment") + rendered.of_kind("StatefulSet")
    (workload,) = [w for w in workloads if pod_labels(w)["app.kubernetes.io/name"] == server]
    admitted = _allowed(rendered, pod_labels(workload), "ingress") - {server}
    assert admitted == clients


def test_kafka_listener_admits_every_service(rendered: Rendered) -> None:
    peers = rendered.kafka()["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"]
    for service in SERVICE_NAMES:
        labels = pod_labels(rendered.service_deployment(service))
        assert any("podSelector" in p and selects(p["podSelector"], labels) for p in peers)
    assert any(p.get("namespaceSelector") for p in peers), "KEDA must read the lag"


# --- secrets, dashboard and rules as cluster objects ---------------------------------------------

def test_no_secret_value_is_committed(rendered: Rendered) -> None:
    assert not rendered.of_kind("Secret")
    example = (K8S / "secret.example.env").read_text()
    for line in example.splitlines():
        if line and not line.startswith("#") and "CHANGE-ME" not in line:
            key = line.partition("=")[0]
            assert key.endswith(("username", "access-key")), f"{key}: not a placeholder"


def test_dashboard_is_provisioned_by_config_map(rendered: Rendered) -> None:
    (config_map,) = [c for c in rendered.of_kind("ConfigMap")
                     if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    shipped = json.loads((DEPLOY / "grafana" / "vigil-dashboard.json").read_text())
    assert json.loads(config_map["data"]["vigil-dashboard.json"]) == shipped


def test_prometheus_rule_carries_the_alert_file(rendered: Rendered) -> None:
    rule = rendered.get("PrometheusRule", "vigil")
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]


def test_kustomize_tree_lives_where_the_docs_say() -> None:
    docs = (REPO / "docs" / "operations.md").read_text()
    for overlay in OVERLAYS:
        assert f"deploy/k8s/overlays/{overlay}" in docs
    assert f"Kubernetes {KUBERNETES_VERSION.rsplit('.', 1)[0]}" in docs
