"""`vigil analyze`, `vigil train`, `vigil evaluate`.

Heavy imports (TensorFlow, the services) stay inside the handlers so that `vigil --help` is fast.
Settings come from the environment like the services' (`VIGIL_DETECT__...`,
`VIGIL_CLASSIFY__...`), so a command analyses exactly as the running system would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.settings import Settings

DEFAULT_MODEL_OUT = Path("services/classify/weights/violence.keras")


def add_commands(commands: Any) -> None:
    """Register the classify commands on the `vigil` sub-parsers; imports stay light."""
    analyze = commands.add_parser(
        "analyze", help="find violence in one video: JSON report, optional annotated video")
    analyze.add_argument("video", type=Path)
    analyze.add_argument("--report", type=Path, required=True, help="where the JSON goes")
    analyze.add_argument("--annotated", type=Path, metavar="OUT",
                         help="write the video with red (violent) / green boxes and track ids")
    analyze.set_defaults(handler=run_analyze)

    train = commands.add_parser(
        "train", help="train the violence model on labelled clips (grouped cross-validation)")
    train.add_argument("dir", type=Path, help="fight/ + noFight/ or Violence/ + NonViolence/")
    train.add_argument("--groups", type=Path, help="clip,label,source_group CSV")
    train.add_argument("--folds", type=int, default=5)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--seed-spread", type=int, default=0, metavar="N",
                       help="also cross-validate N more model seeds on the same folds and "
                       "report the spread (train.json: cross_validation.seed_spread)")
    train.add_argument("--out", type=Path, default=DEFAULT_MODEL_OUT)
    train.add_argument("--report-dir", type=Path,
                       help="train.json, confusion_matrix.png, roc.png (default: next to --out)")
    train.add_argument("--epochs", type=int, help="most epochs per fit (early stopping)")
    train.add_argument("--cache", type=Path, help="track cache (default VIGIL_FEATURE_CACHE "
                       "or ~/.cache/vigil/features)")
    train.set_defaults(handler=run_train)

    evaluate = commands.add_parser(
        "evaluate", help="score the model on a folder of labelled clips")
    evaluate.add_argument("dir", type=Path, help="fight/ + noFight/ or Violence/ + NonViolence/")
    evaluate.add_argument("--report", type=Path, required=True, help="where the JSON goes")
    evaluate.add_argument("--cache", type=Path, help="track cache (as for train)")
    evaluate.set_defaults(handler=run_evaluate)


def load_settings() -> Settings:
    from vigil.settings import Settings

    return Settings()


def _cache_root(given: Path | None) -> Path:
    from services.classify.dataset import default_cache_dir

    return given if given is not None else default_cache_dir()


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


# --------------------------------------------------------------------------- analyze


def run_analyze(args: argparse.Namespace) -> int:
    from services.classify.pipeline import VideoPipeline, VideoUnreadable, check_video

    video: Path = args.video
    try:
        check_video(video)  # before TensorFlow loads: a bad file fails in a second
    except VideoUnreadable as exc:
        return _error(f"cannot analyse: {exc}")

    from tqdm import tqdm

    from services.classify.analyze import analysis_report, source_fps, write_annotated
    from vigil.errors import ModelMissing
    settings = load_settings()
    bar = tqdm(total=0, unit="frame", desc=video.name, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    async def analyse() -> Any:
        async with VideoPipeline(settings.detect, settings.track, settings.ingest,
                                 settings.classify) as pipeline:
            return await pipeline.run(video, progress)

    try:
        result = asyncio.run(analyse())
    except VideoUnreadable as exc:
        return _error(f"cannot analyse: {exc}")
    except ModelMissing as exc:
        return _error(str(exc))
    finally:
        bar.close()
    report = analysis_report(result, settings.classify, source_fps(video))
    if args.annotated is not None:
        frames = write_annotated(video, result, args.annotated, result.analysis_fps
                                 or settings.ingest.analysis_fps)
        report["annotated"] = {"path": str(args.annotated), "frames": frames}
    _write_json(args.report, report)
    verdict = "VIOLENT" if report["violent"] else "not violent"
    print(f"{video}: {verdict} (score {report['score']:.2f}, {len(report['events'])} event(s), "
          f"{report['frames']} frames in {report['seconds']:.1f} s)")
    for event in report["events"]:
        print(f"  event at {event['start_time_s']:.1f}-{event['end_time_s']:.1f} s "
              f"(frames {event['start_video_frame']}-{event['end_video_frame']}), "
              f"culprits {event['culprits']}, max score {event['max_score']:.2f}")
    print(f"report: {args.report}")
    return 0


# --------------------------------------------------------------------------- train


def run_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from services.classify.dataset import apply_groups, discover_clips, read_groups
    from services.classify.extract import PipelineConfigs, extract_tracks
    from services.classify.train import clip_features, recipe, train_and_report

    settings = load_settings()
    try:
        clips = discover_clips(args.dir)
        warnings: list[str] = []
        if args.groups is not None:
            clips, warnings = apply_groups(clips, read_groups(args.groups))
    except (OSError, ValueError) as exc:
        return _error(str(exc))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    configs = PipelineConfigs(settings.detect, settings.track, settings.ingest)
    with tqdm(total=len(clips), unit="clip", desc="tracks", file=sys.stderr) as bar:
        extraction = asyncio.run(extract_tracks(
            [c.path for c in clips], _cache_root(args.cache), configs,
            lambda path, cached: bar.update(1)))
    for path, reason in extraction.errors.items():
        print(f"skipped {path}: {reason}", file=sys.stderr)
    features = clip_features(clips, extraction, settings.classify)
    params = recipe(args.seed)
    if args.epochs is not None:
        params = replace(params, epochs=args.epochs)
    report_dir = args.report_dir or args.out.parent / "report"
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr)
        bar.n = done
        bar.refresh()

    context = {
        "command": " ".join(["vigil", "train", *sys.argv[2:]]) if sys.argv[1:2] == ["train"]
        else "vigil train",
        "dataset": str(args.dir), "groups_file": str(args.groups) if args.groups else None,
        "pipeline_version": configs.version, "detect_backend": settings.detect.backend,
        "skipped": {str(p): r for p, r in extraction.errors.items()},
        "seed": args.seed,
    }
    try:
        run = train_and_report(features, settings.classify, params, args.folds, args.out,
                               report_dir, context, progress, seed_spread=args.seed_spread)
    except ValueError as exc:
        return _error(str(exc))
    finally:
        for bar in bars.values():
            bar.close()
    cv = run.report["cross_validation"]
    model, base = cv["model"], cv["metadata_baseline_tree"]
    low, high = model["ci95"]["accuracy"]
    print(f"grouped {cv['folds']}-fold CV: accuracy {model['accuracy']:.3f} "
          f"[{low:.3f}, {high:.3f}], f1 {model['f1']:.3f}, roc_auc {model['roc_auc']:.3f}; "
          f"metadata baseline accuracy {base['accuracy']:.3f}")
    spread = cv["seed_spread"]
    if len(spread["seeds"]) > 1:
        print(f"model seeds {spread['seeds']} on the same folds: accuracy "
              f"{min(spread['accuracy']):.3f}-{max(spread['accuracy']):.3f}, roc_auc "
              f"{min(spread['roc_auc']):.3f}-{max(spread['roc_auc']):.3f}")
    print(f"model: {args.out}  report: {report_dir / 'train.json'}")
    return 0


# --------------------------------------------------------------------------- evaluate


def run_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from services.classify.evaluate import evaluate_folder, summary
    from services.classify.extract import PipelineConfigs
    from vigil.errors import ModelMissing

    settings = load_settings()
    configs = PipelineConfigs(settings.detect, settings.track, settings.ingest)
    with tqdm(unit="clip", desc="clips", file=sys.stderr) as bar:
        try:
            report = asyncio.run(evaluate_folder(
                args.dir, settings.classify, _cache_root(args.cache), configs,
                lambda path, cached: bar.update(1)))
        except ModelMissing as exc:
            return _error(str(exc))
        except (OSError, ValueError) as exc:
            return _error(str(exc))
    for skipped in report["skipped"]:
        print(f"skipped {skipped['path']}: {skipped['reason']}", file=sys.stderr)
    _write_json(args.report, report)
    print(summary(report))
    print(f"report: {args.report}")
    return 0 if report["n"] else 1
