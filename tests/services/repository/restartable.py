"""Test servers that a test can kill (SIGKILL: a crash, not a clean stop) and start again on the
same port with the same data, to see a client ride out the outage."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests import servers


@dataclass
class RestartableServer:
    args: list[str]
    port: int
    log: Path
    ready: Callable[[], None] = lambda: None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        servers.wait_for_port(self.port, 60, self.proc)
        self.ready()

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None


def mongo_server(workdir: Path) -> tuple[RestartableServer, str]:
    port = servers.free_port()
    data = workdir / f"mongo-{port}"
    data.mkdir(parents=True)
    args = [str(servers.BIN / "secantusd-py"), "--host", "127.0.0.1", "--port", str(port),
            "--storage-path", str(data)]  # fmt: skip
    return RestartableServer(args, port, workdir / f"mongo-{port}.log"), f"mongodb://127.0.0.1:{port}"


def s3_server(workdir: Path) -> tuple[RestartableServer, str]:
    """SeaweedFS as `tests.servers.start_s3` runs it; the address is `host:port`."""
    port = servers.free_port()
    data = workdir / f"s3-{port}"
    data.mkdir(parents=True)
    config = workdir / f"s3-{port}.json"
    config.write_text(json.dumps({"identities": [{
        "name": "vigil",
        "credentials": [{"accessKey": servers.S3_ACCESS_KEY, "secretKey": servers.S3_SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}))  # fmt: skip
    ports = {name: servers.free_port() for name in ("master", "volume", "filer")}
    args = [str(servers.BIN / "weed"), "mini", f"-dir={data}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", f"-s3.port={port}", f"-s3.config={config}",
            f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}", "-webdav=false", "-admin.ui=false",
            "-s3.allowDeleteBucketNotEmpty=false", "-s3.autoCreateBucket=false"]  # fmt: skip
    server = RestartableServer(
        args, port, workdir / f"s3-{port}.log", ready=lambda: servers._wait_s3_ready(port)
    )
    return server, f"127.0.0.1:{port}"
