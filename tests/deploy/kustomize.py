"""Render a Kustomize tree: with the real Kustomize when the machine has it, else in Python.

The real one is `kustomize build` or `kubectl kustomize` (Kustomize v5 is built into kubectl).
The Python renderer implements only the subset that `deploy/` uses, so the tests run on a machine
without either binary; where the real one exists, `test_kustomize.py` checks that both agree.

The subset: `resources` (files and directories), `components`, `configMapGenerator` (literals,
files, behavior create/merge, options: disableNameSuffixHash, labels, annotations), `patches`
given inline as JSON 6902 operations with a `target` (kind, name, group, version), `namespace`,
`labels` (metadata only: no selectors, no templates) and `images` (newName, newTag). Anything else
is refused, so a manifest that outgrows the subset fails loudly instead of rendering wrongly.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]

KUSTOMIZATION_FILE = "kustomization.yaml"
SUPPORTED_FIELDS = {
    "apiVersion", "kind", "resources", "components", "configMapGenerator", "patches",
    "namespace", "labels", "images",
}
CLUSTER_SCOPED_KINDS = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
}


class UnsupportedKustomization(ValueError):
    """The tree uses a Kustomize feature outside the Python subset."""


def real_kustomize() -> list[str] | None:
    """The command of a real Kustomize on this machine, or None."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def build_with_real_kustomize(root: Path, command: list[str]) -> list[Doc]:
    completed = subprocess.run(
        [*command, str(root)], capture_output=True, text=True, timeout=120, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} {root} failed:\n{completed.stderr}")
    return [doc for doc in yaml.safe_load_all(completed.stdout) if doc]


def build(root: Path) -> list[Doc]:
    """Render the kustomization in `root` with the Python subset."""
    resources = _apply(root, [], component=False)
    return _finish(resources)


@dataclass
class _Resource:
    body: Doc
    hash_suffix: bool = False  # a generated ConfigMap: its final name carries its content's hash


def _load_kustomization(root: Path, component: bool) -> Doc:
    kust = yaml.safe_load((root / KUSTOMIZATION_FILE).read_text())
    expected = "Component" if component else "Kustomization"
    if kust.get("kind", "Kustomization") != expected:
        raise UnsupportedKustomization(f"{root}: expected a {expected}, got {kust.get('kind')}")
    unknown = set(kust) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{root}: fields outside the subset: {sorted(unknown)}")
    return kust


def _apply(root: Path, resources: list[_Resource], component: bool) -> list[_Resource]:
    """Kustomize's order: resources, components, generators, then the transformers."""
    kust = _load_kustomization(root, component)
    for entry in kust.get("resources", []):
        path = (root / entry).resolve()
        if path.is_dir():
            resources.extend(_apply(path, [], component=False))
        else:
            docs = yaml.safe_load_all(path.read_text())
            resources.extend(_Resource(doc) for doc in docs if doc)
    for entry in kust.get("components", []):
        _apply((root / entry).resolve(), resources, component=True)
    for generator in kust.get("configMapGenerator", []):
        _generate_config_map(root, generator, resources)
    for patch in kust.get("patches", []):
        _patch(patch, resources)
    if "namespace" in kust:
        for resource in resources:
            if resource.body["kind"] not in CLUSTER_SCOPED_KINDS:
                resource.body["metadata"]["namespace"] = kust["namespace"]
    for label in kust.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise UnsupportedKustomization("labels: only metadata labels are in the subset")
        for resource in resources:
            resource.body["metadata"].setdefault("labels", {}).update(label["pairs"])
    for image in kust.get("images", []):
        for resource in resources:
            _set_image(resource.body, image)
    return resources


def _generate_config_map(root: Path, generator: Doc, resources: list[_Resource]) -> None:
    data: dict[str, str] = {}
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    for file in generator.get("files", []):
        key, _, name = file.rpartition("=") if "=" in file else ("", "", file)
        data[key or Path(name).name] = (root / name).read_text()
    options = generator.get("options", {})
    unknown = set(options) - {"disableNameSuffixHash", "labels", "annotations"}
    if unknown:
        raise UnsupportedKustomization(f"configMapGenerator options: {sorted(unknown)}")
    behavior = generator.get("behavior", "create")
    if behavior == "merge":
        existing = next(
            (r for r in resources if r.body["kind"] == "ConfigMap"
             and r.body["metadata"]["name"] == generator["name"]),
            None,
        )
        if existing is None:
            raise UnsupportedKustomization(f"merge into a missing ConfigMap {generator['name']}")
        existing.body.setdefault("data", {}).update(data)
        for field in ("labels", "annotations"):
            if options.get(field):
                existing.body["metadata"].setdefault(field, {}).update(options[field])
        return
    if behavior != "create":
        raise UnsupportedKustomization(f"configMapGenerator behavior {behavior}")
    metadata: Doc = {"name": generator["name"]}
    if options.get("labels"):
        metadata["labels"] = dict(options["labels"])
    if options.get("annotations"):
        metadata["annotations"] = dict(options["annotations"])
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
    resources.append(_Resource(body, hash_suffix=not options.get("disableNameSuffixHash")))


def _matches(target: Doc, body: Doc) -> bool:
    unknown = set(target) - {"kind", "name", "group", "version"}
    if unknown:
        raise UnsupportedKustomization(f"patch target fields {sorted(unknown)}")
    group, _, version = body["apiVersion"].rpartition("/")
    actual = {"kind": body["kind"], "name": body["metadata"]["name"], "group": group,
              "version": version}
    return all(re.fullmatch(pattern, actual[field]) for field, pattern in target.items())


def _patch(patch: Doc, resources: list[_Resource]) -> None:
    if "path" in patch:
        raise UnsupportedKustomization("patches from files: inline them")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise UnsupportedKustomization("strategic merge patches: use JSON 6902 operations")
    matched = [r for r in resources if _matches(patch.get("target", {}), r.body)]
    if not matched:
        raise UnsupportedKustomization(f"patch target matches nothing: {patch.get('target')}")
    for resource in matched:
        for operation in operations:
            _json_patch(resource.body, operation)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer must start with /: {path}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _json_patch(body: Doc, operation: Doc) -> None:
    *parents, last = _pointer(operation["path"])
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    op = operation["op"]
    if op not in ("add", "replace", "remove"):
        raise UnsupportedKustomization(f"JSON patch op {op}")
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, copy.deepcopy(operation["value"]))
        elif op == "replace":
            node[index] = copy.deepcopy(operation["value"])
        else:
            del node[index]
        return
    if op in ("replace", "remove") and last not in node:
        raise KeyError(f"{op} {operation['path']}: no such field")
    if op == "remove":
        del node[last]
    else:
        node[last] = copy.deepcopy(operation["value"])


def _pod_specs(body: Doc) -> list[Doc]:
    spec = body.get("spec", {})
    if body["kind"] == "Pod":
        return [spec]
    if body["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    template = spec.get("template", {})
    return [template["spec"]] if "containers" in template.get("spec", {}) else []


def _containers(body: Doc) -> list[Doc]:
    return [
        container
        for pod in _pod_specs(body)
        for container in pod.get("containers", []) + pod.get("initContainers", [])
    ]


def _split_image(image: str) -> tuple[str, str]:
    """'name:tag' -> ('name', ':tag'); a port in the registry host is not a tag."""
    name, _, digest = image.partition("@")
    if digest:
        return name, "@" + digest
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon:]
    return name, ""


def _set_image(body: Doc, image: Doc) -> None:
    for container in _containers(body):
        name, tag = _split_image(container["image"])
        if name != image["name"]:
            continue
        new_name = image.get("newName", name)
        new_tag = f":{image['newTag']}" if "newTag" in image else tag
        container["image"] = new_name + new_tag


def config_map_hash(body: Doc) -> str:
    """Kustomize's name suffix: SHA-256 of the ConfigMap's JSON, 10 characters re-encoded.

    Kustomize looks the name up as the single key "metadata/name", finds nothing and hashes ""
    (api/hasher): the suffix depends on the data alone, and this must do the same to agree.
    """
    encoded = {"kind": "ConfigMap", "name": "", "data": body.get("data", {})}
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Go's encoding/json escapes these; the hash is over Go's bytes.
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _finish(resources: list[_Resource]) -> list[Doc]:
    renamed: dict[tuple[str | None, str], str] = {}
    for resource in resources:
        if resource.hash_suffix:
            metadata = resource.body["metadata"]
            new_name = f"{metadata['name']}-{config_map_hash(resource.body)}"
            renamed[(metadata.get("namespace"), metadata["name"])] = new_name
            metadata["name"] = new_name
    for resource in resources:
        namespace = resource.body["metadata"].get("namespace")
        for reference in _config_map_references(resource.body):
            reference["name"] = renamed.get((namespace, reference["name"]), reference["name"])
    return [resource.body for resource in resources]


def _config_map_references(body: Doc) -> list[Doc]:
    """Every `{name: ...}` in a pod spec that names a ConfigMap."""
    found: list[Doc] = []
    for pod in _pod_specs(body):
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            found += [
                e["configMapRef"] for e in container.get("envFrom", []) if "configMapRef" in e
            ]
            found += [
                e["valueFrom"]["configMapKeyRef"] for e in container.get("env", [])
                if "configMapKeyRef" in e.get("valueFrom", {})
            ]
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                found.append(volume["configMap"])
            for source in volume.get("projected", {}).get("sources", []):
                if "configMap" in source:
                    found.append(source["configMap"])
    return found
