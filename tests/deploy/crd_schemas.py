"""JSON Schemas for the custom resources the manifests use, as far as the tests check them.

The operators' CRDs are not shipped by any package the tests can install, so these hold what the
operators refuse a resource without: apiVersion and kind, the required fields and their types, and
the value sets that matter here. Versions: Strimzi 0.45 (kafka.strimzi.io/v1beta2), KEDA 2.16
(keda.sh/v1alpha1), Prometheus Operator 0.79 (monitoring.coreos.com/v1).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
_QUANTITY = {"type": ["string", "integer", "number"]}
_RESOURCES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "requests": {"type": "object", "additionalProperties": _QUANTITY},
        "limits": {"type": "object", "additionalProperties": _QUANTITY},
    },
}
_LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array"},
    },
}


def _resource(api_version: str, kind: str, spec: Schema, metadata: Schema | None = None) -> Schema:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": metadata or {
                "type": "object",
                "required": ["name"],
                "properties": {"name": _NAME},
            },
            "spec": spec,
        },
    }


def _metadata_with_labels(required_labels: list[str]) -> Schema:
    return {
        "type": "object",
        "required": ["name", "labels"],
        "properties": {
            "name": _NAME,
            "labels": {"type": "object", "required": required_labels},
        },
    }


KAFKA = _resource(
    "kafka.strimzi.io/v1beta2",
    "Kafka",
    metadata={
        "type": "object",
        "required": ["name", "annotations"],
        "properties": {
            "name": _NAME,
            # Without these Strimzi 0.45 looks for ZooKeeper and ignores the node pools.
            "annotations": {
                "type": "object",
                "required": ["strimzi.io/kraft", "strimzi.io/node-pools"],
                "properties": {
                    "strimzi.io/kraft": {"const": "enabled"},
                    "strimzi.io/node-pools": {"const": "enabled"},
                },
            },
        },
    },
    spec={
        "type": "object",
        "required": ["kafka"],
        "additionalProperties": False,
        "properties": {
            "kafka": {
                "type": "object",
                "required": ["listeners"],
                "additionalProperties": False,
                "properties": {
                    "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
                    "metadataVersion": {"type": "string"},
                    "listeners": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["name", "port", "type", "tls"],
                            "properties": {
                                "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                                "port": {"type": "integer", "minimum": 9092},
                                "type": {"enum": ["internal", "route", "loadbalancer",
                                                  "nodeport", "ingress", "cluster-ip"]},
                                "tls": {"type": "boolean"},
                                "networkPolicyPeers": {"type": "array"},
                            },
                        },
                    },
                    "config": {"type": "object"},
                    "resources": _RESOURCES,
                },
            },
            "entityOperator": {
                "type": "object",
                "properties": {"topicOperator": {"type": "object"},
                               "userOperator": {"type": "object"}},
            },
            "kafkaExporter": {"type": "object"},
        },
    },
)

KAFKA_NODE_POOL = _resource(
    "kafka.strimzi.io/v1beta2",
    "KafkaNodePool",
    metadata=_metadata_with_labels(["strimzi.io/cluster"]),
    spec={
        "type": "object",
        "required": ["replicas", "roles", "storage"],
        "additionalProperties": False,
        "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "roles": {"type": "array", "minItems": 1, "uniqueItems": True,
                      "items": {"enum": ["controller", "broker"]}},
            "storage": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["ephemeral", "persistent-claim", "jbod"]},
                    "volumes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "type"],
                            "additionalProperties": False,
                            "properties": {
                                "id": {"type": "integer", "minimum": 0},
                                "type": {"enum": ["ephemeral", "persistent-claim"]},
                                "size": {"type": "string"},
                                "deleteClaim": {"type": "boolean"},
                                "kraftMetadata": {"const": "shared"},
                                "class": {"type": "string"},
                            },
                        },
                    },
                },
            },
            "resources": _RESOURCES,
        },
    },
)

KAFKA_TOPIC = _resource(
    "kafka.strimzi.io/v1beta2",
    "KafkaTopic",
    metadata=_metadata_with_labels(["strimzi.io/cluster"]),
    spec={
        "type": "object",
        "required": ["partitions", "replicas"],
        "additionalProperties": False,
        "properties": {
            "topicName": {"type": "string", "pattern": r"^[a-zA-Z0-9._-]{1,249}$"},
            "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
            "config": {"type": "object",
                       "additionalProperties": {"type": ["string", "integer", "boolean"]}},
        },
    },
)

SCALED_OBJECT = _resource(
    "keda.sh/v1alpha1",
    "ScaledObject",
    spec={
        "type": "object",
        "required": ["scaleTargetRef", "triggers"],
        "additionalProperties": False,
        "properties": {
            "scaleTargetRef": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": _NAME, "kind": {"type": "string"},
                               "apiVersion": {"type": "string"}},
            },
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            "advanced": {"type": "object"},
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["type", "metadata"],
                    "properties": {
                        "type": {"type": "string"},
                        # KEDA reads trigger metadata as strings only.
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
        },
    },
)

SERVICE_MONITOR = _resource(
    "monitoring.coreos.com/v1",
    "ServiceMonitor",
    spec={
        "type": "object",
        "required": ["selector", "endpoints"],
        "properties": {
            "selector": _LABEL_SELECTOR,
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["port"],
                    "properties": {
                        "port": {"type": "string"},
                        "path": {"type": "string", "pattern": "^/"},
                        "interval": {"type": "string", "pattern": r"^\d+[smh]$"},
                    },
                },
            },
        },
    },
)

PROMETHEUS_RULE = _resource(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    spec={
        "type": "object",
        "required": ["groups"],
        "properties": {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "rules"],
                    "properties": {
                        "name": {"type": "string"},
                        "rules": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["expr"],
                                "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                "properties": {
                                    "expr": {"type": "string"},
                                    "for": {"type": "string", "pattern": r"^\d+[smh]$"},
                                    "labels": {"type": "object"},
                                    "annotations": {"type": "object"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
)

BY_API = {
    (schema["properties"]["apiVersion"]["const"], schema["properties"]["kind"]["const"]): schema
    for schema in (KAFKA, KAFKA_NODE_POOL, KAFKA_TOPIC, SCALED_OBJECT, SERVICE_MONITOR,
                   PROMETHEUS_RULE)
}
