"""Run the benchmarks (all, or those named), write bench/results/NAME.json, print a table."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

BENCHMARKS = ["ingest", "bus", "perception", "repository", "classify", "gateway"]
RESULTS = Path(__file__).parent / "results"


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flatten(f"{prefix}.{k}", v)]
    return [(prefix, value)]


def main(names: list[str]) -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, Any]] = []
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        result = module.run()
        result["_meta"] = {"seconds": round(time.perf_counter() - started, 1),
                           "machine": platform.machine(), "python": platform.python_version(),
                           "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        rows += [r for r in _flatten(name, result) if "._meta" not in r[0]]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
