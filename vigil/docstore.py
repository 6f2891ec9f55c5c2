"""MongoDB: the async PyMongo client, and the embedded MongoDB-protocol server for `vigil run`.

The embedded server is SecantusDB, a separate program (GPL-2.0) run as a child process with its
data in the state folder; the product talks to it over the wire protocol like to any mongod.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import AsyncMongoClient

from vigil.errors import ConfigError, Unavailable

log = logging.getLogger(__name__)


def client(url: str) -> AsyncMongoClient:
    return AsyncMongoClient(url, serverSelectionTimeoutMS=5000, tz_aware=True)


class EmbeddedMongo:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout_s: float = 60) -> str:
        program = shutil.which("secantusd-py") or str(Path(sys.executable).parent / "secantusd-py")
        if not Path(program).exists():
            raise ConfigError(
                "the embedded MongoDB-protocol server (secantusd-py) is missing: run `make setup`,"
                " or set VIGIL_MONGO__URL to a MongoDB server"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log_file = (self.data_dir / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [program, "--host", "127.0.0.1", "--port", str(port),
             "--storage-path", str(self.data_dir / "db")],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise Unavailable(
                    f"embedded MongoDB server exited ({self.proc.returncode});"
                    f" see {self.data_dir / 'server.log'}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise Unavailable("embedded MongoDB server did not start") from None
                time.sleep(0.1)
        self.url = f"mongodb://127.0.0.1:{port}"
        log.info("embedded MongoDB server started", extra={"url": self.url})
        return self.url

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
