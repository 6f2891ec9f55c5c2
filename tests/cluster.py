"""A local multi-process cluster: the test servers and every service as its own `vigil serve`
process, configured the way Kubernetes configures them (Kafka, MongoDB, S3, Redis).

`make cluster` runs it in the foreground (Ctrl-C stops everything); the end-to-end test starts
it from a fixture.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests import servers
from vigil.compose import SERVICE_NAMES

JWT_SECRET = "a-local-cluster-only-session-key-0123456789"


@dataclass
class Cluster:
    workdir: Path
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def log(self, service: str) -> str:
        return (self.workdir / f"{service}.log").read_text(errors="replace")


def service_env(kafka: str, mongo: str, s3: str, redis: str) -> dict[str, str]:
    s3_url = urlsplit(s3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    if "VIGIL_DATA_DIR" in os.environ:
        env["VIGIL_DATA_DIR"] = os.environ["VIGIL_DATA_DIR"]
    env.update(
        VIGIL_BUS__KIND="kafka", VIGIL_BUS__BOOTSTRAP_SERVERS=kafka, VIGIL_BUS__PARTITIONS="4",
        VIGIL_MONGO__URL=mongo, VIGIL_MONGO__DATABASE=f"cluster{int(time.time())}",
        VIGIL_MEDIA__KIND="s3", VIGIL_MEDIA__ENDPOINT=f"{s3_url.hostname}:{s3_url.port}",
        VIGIL_MEDIA__ACCESS_KEY=s3_url.username or "",
        VIGIL_MEDIA__SECRET_KEY=s3_url.password or "",
        VIGIL_MEDIA__BUCKET=f"cluster{int(time.time())}",
        VIGIL_REDIS__URL=redis, VIGIL_GATEWAY__JWT_SECRET=JWT_SECRET,
    )  # the analysis rate stays the classifier's own (10 fps), as the model was trained
    return env


@contextlib.contextmanager
def running(
    workdir: Path, env: dict[str, str], gateway_port: int | None = None, timeout_s: float = 240
) -> Iterator[Cluster]:
    cluster = Cluster(workdir, env)
    try:
        for name in SERVICE_NAMES:
            port = gateway_port if name == "gateway" and gateway_port else servers.free_port()
            cluster.ports[name] = port
            with (workdir / f"{name}.log").open("wb") as log:
                cluster.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "vigil.cli", "serve", name],
                    env={**env, "VIGIL_HTTP__PORT": str(port)},
                    stdout=log, stderr=subprocess.STDOUT,
                )
        deadline = time.monotonic() + timeout_s
        waiting = set(SERVICE_NAMES)
        while waiting:
            for name in sorted(waiting):
                if cluster.procs[name].poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{cluster.log(name)[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{cluster.url(name)}/readyz", timeout=2).status_code == 200:
                        waiting.discard(name)
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready: {sorted(waiting)}")
            time.sleep(0.5)
        yield cluster
    finally:
        for proc in cluster.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in cluster.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="vigil-cluster-") as tmp:
        work = Path(tmp)
        started = [start(work) for start in servers.STARTERS.values()]
        try:
            kafka, mongo, s3, redis = (s.address for s in started)
            with running(work, service_env(kafka, mongo, s3, redis), gateway_port=8000) as c:
                for name in SERVICE_NAMES:
                    print(f"{name:<11} {c.url(name)}  (log: {work / (name + '.log')})")
                print("open http://127.0.0.1:8000 ; Ctrl-C stops the cluster")
                # Blocked only now: the services must not inherit a blocked SIGTERM.
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            for server in started:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
