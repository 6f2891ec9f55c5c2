"""`vigil`: run the services, fetch the models, analyse, train and evaluate."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from vigil import topics
from vigil.compose import SERVICE_NAMES, Runtime, build_service, make_bus, make_media
from vigil.docstore import EmbeddedMongo
from vigil.errors import ConfigError
from vigil.runtime import logs
from vigil.runtime.process import Service, probes_router, run_process
from vigil.settings import Settings

log = logging.getLogger("vigil")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vigil", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run one service (the container entry point)")
    serve.add_argument("service", choices=SERVICE_NAMES)

    run = commands.add_parser("run", help="run all six services in one process, no servers")
    run.add_argument("--data-dir", type=Path, help="where its data lives (default ./data)")
    run.add_argument("--port", type=int, help="the web UI's port (default 8000)")
    run.add_argument("--source", action="append", default=[], metavar="FILE_OR_URL",
                     help="a camera to start with (repeatable); a file loops like a camera")

    models = commands.add_parser("models", help="the pretrained models")
    models.add_argument("action", choices=["fetch"])

    quality = commands.add_parser(
        "quality", help="score detection and tracking on MOT17-mini and TUD; write the table"
    )
    quality.add_argument("--out", type=Path, default=Path("docs/quality.md"))
    quality.add_argument("--yolo-model", type=Path, help="also score your YOLO (.weights/.onnx)")
    quality.add_argument("--yolo-config", type=Path, help="its Darknet .cfg")

    from services.classify.cli import add_commands as add_classify_commands

    add_classify_commands(commands)  # analyze, train, evaluate

    args = parser.parse_args(argv)
    if hasattr(args, "handler"):  # a command that brings its own handler
        return int(args.handler(args))
    if args.command == "quality":
        from vigil.quality import write_report

        print(write_report(args.out, args.yolo_model, args.yolo_config))
        return 0
    if args.command == "models":
        from vigil.models.fetch import main_fetch

        return main_fetch()
    try:
        settings = Settings()
        logs.configure(settings.log_level)
        if args.command == "serve":
            return asyncio.run(serve_one(settings, args.service))
        overrides: dict[str, object] = {}
        if args.data_dir:
            overrides["state_dir"] = args.data_dir
        if args.port:
            overrides["http"] = settings.http.model_copy(update={"port": args.port})
        return asyncio.run(run_all(settings.model_copy(update=overrides), args.source))
    except (ConfigError, ValidationError) as exc:
        print(f"vigil: {exc}", file=sys.stderr)  # a configuration to fix, not a crash
        return 2


async def serve_one(settings: Settings, name: str) -> int:
    runtime = Runtime(settings, make_bus(settings), make_media(settings))
    services, app = await start(runtime, [name])
    await run_process(services, app, settings.http.host, settings.http.port,
                      on_close=[runtime.bus.stop, *runtime.on_close])
    return 0


async def start(runtime: Runtime, names: Sequence[str]) -> tuple[list[Service], FastAPI]:
    """Connects the clients and builds the services; a failed start (a corrupt model, a bad
    setting) closes what it opened, so no client or embedded server outlives it."""
    try:
        await runtime.bus.start()
        await runtime.bus.ensure_topics([t.name for t in topics.ALL])
        await runtime.media.start()
        services = [build_service(name, runtime) for name in names]
        return services, http_app(services, runtime)
    except BaseException:
        for close in (runtime.bus.stop, *runtime.on_close):
            with contextlib.suppress(Exception):
                await close()
        raise


def http_app(services: list[Service], runtime: Runtime) -> FastAPI:
    """The gateway's app where the gateway runs; elsewhere just the probes and metrics."""
    if any(s.name == "gateway" for s in services):
        from services.gateway.service import create_app

        return create_app(runtime.settings, services, runtime.bus, runtime.media,
                          runtime.database())
    app = FastAPI(title="vigil " + ", ".join(s.name for s in services))
    app.include_router(probes_router(services))
    return app


def embedded_secret(state_dir: Path) -> SecretStr:
    """`vigil run` signs its sessions with a key made once and kept in its data folder."""
    path = state_dir / "jwt-secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return SecretStr(path.read_text().strip())


async def run_all(settings: Settings, sources: list[str]) -> int:
    """Everything in one process: in-process bus, embedded MongoDB server, local media."""
    updates: dict[str, object] = {"bus": settings.bus.model_copy(update={"kind": "memory"})}
    embedded = None
    if settings.mongo.url is None:
        embedded = EmbeddedMongo(Path(settings.state_dir) / "mongo")
        url = await asyncio.to_thread(embedded.start)
        updates["mongo"] = settings.mongo.model_copy(update={"url": url})
    if settings.gateway.jwt_secret is None:
        updates["gateway"] = settings.gateway.model_copy(
            update={"jwt_secret": embedded_secret(Path(settings.state_dir))}
        )
    settings = settings.model_copy(update=updates)
    runtime = Runtime(settings, make_bus(settings), make_media(settings))
    if embedded is not None:
        runtime.on_close.append(lambda: asyncio.to_thread(embedded.stop))
    services, app = await start(runtime, SERVICE_NAMES)
    url = f"http://{settings.http.host}:{settings.http.port}"
    log.info("vigil is running", extra={"url": url, "data_dir": str(settings.state_dir)})
    from services.gateway.service import GatewayService

    gateway = next(s for s in services if isinstance(s, GatewayService))
    for number, source in enumerate(sources, start=1):
        await gateway.start_camera(f"camera-{number}", source)  # listed in the UI, started
    if not sources:
        log.info(f"no camera yet: open {url} to add a camera or upload a video,"
                 " or start with `vigil run --source FILE_OR_URL`")
    await run_process(services, app, settings.http.host, settings.http.port,
                      on_close=[runtime.bus.stop, *runtime.on_close])
    return 0


if __name__ == "__main__":
    sys.exit(main())
