"""The Python Kustomize subset: the same output as the real Kustomize, and loud on what it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy import kustomize
from tests.deploy.manifests import K8S, OVERLAYS, Doc


def _by_identity(docs: list[Doc]) -> dict[tuple[str, str, str | None, str], Doc]:
    keyed = {
        (d["apiVersion"], d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
        for d in docs
    }
    assert len(keyed) == len(docs), "two resources share an identity"
    return keyed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_subset_renders_what_real_kustomize_renders(overlay: str) -> None:
    command = kustomize.real_kustomize()
    if command is None:
        pytest.skip("no kustomize or kubectl on this machine: the subset cannot be compared")
    root = K8S / "overlays" / overlay
    assert _by_identity(kustomize.build(root)) == _by_identity(
        kustomize.build_with_real_kustomize(root, command)
    )


@pytest.mark.parametrize(
    ("data", "suffix"),
    [
        # Kustomize's own test vectors (api/hasher/hasher_test.go).
        ({"one": ""}, "9g67k2htb6"),
        ({"two": 2, "one": "", "three": 3}, "7757f9kkct"),
    ],
)
def test_config_map_hash_matches_kustomize_vectors(data: dict[str, object], suffix: str) -> None:
    assert kustomize.config_map_hash({"metadata": {"name": "any"}, "data": data}) == suffix


def _write_tree(root: Path, files: dict[str, object]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(content) if not isinstance(content, str) else content)


CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}


@pytest.mark.parametrize(
    ("kustomization", "error"),
    [
        ({"resources": ["cm.yaml"], "namePrefix": "a-"}, "fields outside the subset"),
        ({"resources": ["cm.yaml"], "patches": [{"path": "p.yaml"}]}, "inline them"),
        (
            {"resources": ["cm.yaml"],
             "patches": [{"target": {"kind": "ConfigMap"}, "patch": "data: {a: b}"}]},
            "strategic merge",
        ),
        (
            {"resources": ["cm.yaml"],
             "patches": [{"target": {"kind": "Secret"},
                          "patch": "- {op: add, path: /data/a, value: b}"}]},
            "matches nothing",
        ),
        ({"configMapGenerator": [{"name": "y", "behavior": "merge", "literals": ["a=b"]}]},
         "missing ConfigMap"),
    ],
)
def test_subset_refuses_what_it_does_not_implement(
    tmp_path: Path, kustomization: dict[str, object], error: str
) -> None:
    _write_tree(tmp_path, {"kustomization.yaml": kustomization, "cm.yaml": CONFIG_MAP})
    with pytest.raises(kustomize.UnsupportedKustomization, match=error):
        kustomize.build(tmp_path)


def test_generated_config_map_is_renamed_and_its_references_follow(tmp_path: Path) -> None:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "app:1", "envFrom": [{"configMapRef": {"name": "settings"}}]},
        ]}}},
    }
    _write_tree(tmp_path, {
        "kustomization.yaml": {
            "resources": ["deployment.yaml"],
            "configMapGenerator": [{"name": "settings", "literals": ["A=1"]}],
            "images": [{"name": "app", "newTag": "2"}],
            "namespace": "ns",
        },
        "deployment.yaml": deployment,
    })
    docs = {d["kind"]: d for d in kustomize.build(tmp_path)}
    generated = docs["ConfigMap"]["metadata"]["name"]
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert generated == "settings-" + kustomize.config_map_hash(docs["ConfigMap"])
    assert container["envFrom"][0]["configMapRef"]["name"] == generated
    assert container["image"] == "app:2"
    assert {d["metadata"]["namespace"] for d in docs.values()} == {"ns"}
