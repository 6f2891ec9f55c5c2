"""Tracking quality: CLEAR-MOT (MOTA, ID switches) and IDF1, DeepSORT beside plain SORT.

Two inputs, both fed to every tracker in the same run:
(a) TUD-Campus and TUD-Stadtmitte ground truth (shipped in the motmetrics wheel), turned into
    detections by perturbing the true boxes (jitter, dropped detections, false positives, from a
    seed). There are no images, so appearance is simulated: each true person is a random unit
    vector, each detection of it that vector plus noise (false positives get random vectors).
(b) MOT17-mini: the public FRCNN detections of the few frames present in img1/ (4 to 8 frames per
    sequence, so the figures are small-sample), appearance from an injected embed(image, boxes)
    callable; without one, DeepSORT runs on motion alone (Mahalanobis cascade, then IoU).

Run: python -m services.track.evaluate [--data-dir DIR] [--seed N] [--sweep]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from services.track.config import TrackConfig
from services.track.deepsort.iou_matching import iou_matrix
from services.track.deepsort.tracker import Tracker, TrackOutput
from services.track.sort import Sort

EmbedFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]

# A hypothesis counts as the same object as a ground-truth box at IoU >= 0.5 (MOTChallenge).
MATCH_IOU = 0.5
TUD_SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
TUD_IMAGE_SIZE = (640, 480)
# MOT17 gt classes whose boxes are neither scored nor penalised (MOTChallenge devkit):
# person on vehicle, static person, distractor, reflection.
MOT17_DISTRACTOR_CLASSES = (2, 7, 8, 12)
METRICS = ("mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_objects")


class TrackerLike(Protocol):
    def update(
        self, boxes: np.ndarray, scores: np.ndarray, embeddings: np.ndarray | None = None
    ) -> list[TrackOutput]: ...


@dataclass(frozen=True)
class Perturbation:
    """How ground-truth boxes become detections in (a). Values are documented in the table."""

    jitter: float = 0.05  # std of centre and size noise, as a fraction of the box size
    drop_rate: float = 0.1  # chance a true box yields no detection
    false_positives_per_frame: float = 0.5  # Poisson mean
    embedding_dim: int = 128
    identity_spread: float = 1.0  # person vector = normalise(shared + spread * own): cos ~ 0.5
    embedding_noise: float = 0.5  # norm of the per-detection noise: same-person cos ~ 0.8


# Appearance closer to ImageNet features than to a re-id model: people look alike (cosine ~0.8
# between two people, as between two detections of one person), so motion has to decide.
LOOK_ALIKE = Perturbation(identity_spread=0.5, embedding_noise=0.5)


@dataclass(frozen=True)
class Frame:
    """One frame of a sequence: detections in, ground truth to score against."""

    boxes: np.ndarray  # (n, 4) x1, y1, x2, y2
    scores: np.ndarray  # (n,)
    embeddings: np.ndarray | None  # (n, d)
    gt_ids: np.ndarray  # (m,)
    gt_boxes: np.ndarray  # (m, 4) x1, y1, x2, y2
    ignore_boxes: np.ndarray  # (k, 4) distractors: hypotheses on them are dropped


def default_data_dir() -> Path:
    return Path(os.environ.get("VIGIL_DATA_DIR", "../shared/data")).resolve()


def motmetrics_data_dir() -> Path:
    import motmetrics

    return Path(motmetrics.__file__).parent / "data"


def tlwh_to_xyxy(tlwh: np.ndarray) -> np.ndarray:
    boxes = np.asarray(tlwh, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def load_mot_rows(path: Path) -> np.ndarray:
    """MOT text file -> (rows, columns) float array; empty file -> (0, 10)."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return rows if rows.size else np.zeros((0, 10))


# ---------------------------------------------------------------- (a) perturbed TUD ground truth


def perturbed_frames(gt_rows: np.ndarray, rng: np.random.Generator, p: Perturbation) -> list[Frame]:
    """Detections made from the ground truth by jitter, drops and false positives."""
    person_ids = np.unique(gt_rows[:, 1]).astype(int)
    shared = _unit(rng.standard_normal(p.embedding_dim))
    identity = {
        pid: _unit(shared + p.identity_spread * _unit(rng.standard_normal(p.embedding_dim)))
        for pid in person_ids
    }
    width, height = TUD_IMAGE_SIZE
    frames = []
    for frame_no in range(int(gt_rows[:, 0].min()), int(gt_rows[:, 0].max()) + 1):
        rows = gt_rows[gt_rows[:, 0] == frame_no]
        gt_boxes = tlwh_to_xyxy(rows[:, 2:6])
        gt_ids = rows[:, 1].astype(int)

        kept = rng.random(len(rows)) >= p.drop_rate
        tlwh = rows[kept, 2:6].copy()
        size = np.repeat(tlwh[:, 2:], 2, axis=1)
        tlwh += rng.normal(0.0, p.jitter, tlwh.shape) * size
        tlwh[:, 2:] = np.maximum(tlwh[:, 2:], 2.0)
        true_vectors = [identity[pid] for pid in gt_ids[kept]]

        n_false = int(rng.poisson(p.false_positives_per_frame))
        false_h = rng.uniform(80, 250, n_false)
        false_w = false_h * rng.uniform(0.3, 0.5, n_false)
        false_tlwh = np.stack(
            [rng.uniform(0, width - false_w), rng.uniform(0, height - false_h), false_w, false_h],
            axis=1,
        )
        false_vectors = [_unit(rng.standard_normal(p.embedding_dim)) for _ in range(n_false)]

        vectors = np.array(true_vectors + false_vectors).reshape(-1, p.embedding_dim)
        noise = rng.standard_normal(vectors.shape) * p.embedding_noise / np.sqrt(p.embedding_dim)
        embeddings = vectors + noise
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        scores = np.r_[rng.uniform(0.5, 1.0, int(kept.sum())), rng.uniform(0.3, 0.8, n_false)]
        frames.append(
            Frame(
                boxes=tlwh_to_xyxy(np.vstack([tlwh, false_tlwh])),
                scores=scores,
                embeddings=embeddings,
                gt_ids=gt_ids,
                gt_boxes=gt_boxes,
                ignore_boxes=np.zeros((0, 4)),
            )
        )
    return frames


def _unit(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector / np.linalg.norm(vector), dtype=np.float64)


# ----------------------------------------------------------------------------- (b) MOT17-mini


def mot17_frames(sequence_dir: Path, embed: EmbedFunction | None) -> list[Frame]:
    """Public detections and pedestrian ground truth of the frames present in img1/."""
    frame_numbers = sorted(int(p.stem) for p in (sequence_dir / "img1").glob("*.jpg"))
    det_rows = load_mot_rows(sequence_dir / "det" / "det.txt")
    gt_rows = load_mot_rows(sequence_dir / "gt" / "gt.txt")
    scored = (gt_rows[:, 6] == 1) & (gt_rows[:, 7] == 1)
    ignored = np.isin(gt_rows[:, 7], MOT17_DISTRACTOR_CLASSES)
    frames = []
    for frame_no in frame_numbers:
        dets = det_rows[det_rows[:, 0] == frame_no]
        boxes = tlwh_to_xyxy(dets[:, 2:6])
        embeddings = None
        if embed is not None:
            import cv2  # only needed when appearance is computed from the images

            image = cv2.imread(str(sequence_dir / "img1" / f"{frame_no:06d}.jpg"))
            if image is None:
                raise FileNotFoundError(f"cannot read frame {frame_no} of {sequence_dir}")
            embeddings = np.asarray(embed(image, boxes), dtype=np.float64)
        in_frame = gt_rows[:, 0] == frame_no
        frames.append(
            Frame(
                boxes=boxes,
                scores=dets[:, 6],
                embeddings=embeddings,
                gt_ids=gt_rows[in_frame & scored, 1].astype(int),
                gt_boxes=tlwh_to_xyxy(gt_rows[in_frame & scored, 2:6]),
                ignore_boxes=tlwh_to_xyxy(gt_rows[in_frame & ignored, 2:6]),
            )
        )
    return frames


# --------------------------------------------------------------------------------- scoring


def run_tracker(
    tracker: TrackerLike, frames: Sequence[Frame], use_appearance: bool = True
) -> list[list[TrackOutput]]:
    return [
        tracker.update(f.boxes, f.scores, f.embeddings if use_appearance else None) for f in frames
    ]


def drop_hypotheses_on_distractors(
    outputs: Sequence[TrackOutput], ignore_boxes: np.ndarray
) -> list[TrackOutput]:
    """Hypotheses on distractor boxes are neither hits nor false positives (MOT devkit)."""
    if not outputs or len(ignore_boxes) == 0:
        return list(outputs)
    from scipy.optimize import linear_sum_assignment

    overlap = iou_matrix(ignore_boxes, np.stack([o.box for o in outputs]))
    rows, cols = linear_sum_assignment(-overlap)
    dropped = {int(c) for r, c in zip(rows, cols, strict=True) if overlap[r, c] >= MATCH_IOU}
    return [o for k, o in enumerate(outputs) if k not in dropped]


def accumulate(frames: Sequence[Frame], outputs: Sequence[Sequence[TrackOutput]]) -> Any:
    """motmetrics accumulator over a sequence; distance 1 - IoU, no match below IoU 0.5."""
    import motmetrics

    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    for frame, frame_outputs in zip(frames, outputs, strict=True):
        hypotheses = drop_hypotheses_on_distractors(frame_outputs, frame.ignore_boxes)
        hyp_boxes = np.array([h.box for h in hypotheses]).reshape(-1, 4)
        distance = 1.0 - iou_matrix(frame.gt_boxes, hyp_boxes)
        distance[distance > 1.0 - MATCH_IOU] = np.nan
        accumulator.update(frame.gt_ids.tolist(), [h.track_id for h in hypotheses], distance)
    return accumulator


def score(accumulators: Sequence[Any], names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Metrics per sequence and 'OVERALL' (motmetrics pools the events, it does not average)."""
    import motmetrics

    host = motmetrics.metrics.create()
    table = host.compute_many(
        list(accumulators), metrics=list(METRICS), names=list(names), generate_overall=True
    )
    return {
        str(name): {metric: float(table.loc[name, metric]) for metric in METRICS}
        for name in table.index
    }


TrackerFactory = Callable[[], TrackerLike]


def tracker_factories(config: TrackConfig) -> dict[str, tuple[TrackerFactory, bool]]:
    """Name -> (factory, feed appearance). SORT shares the confirmation delay and score cut."""
    return {
        "DeepSORT": (lambda: Tracker(config), True),
        "DeepSORT, motion only": (lambda: Tracker(config), False),
        "SORT": (
            lambda: Sort(
                min_hits=config.n_init,
                iou_threshold=1.0 - config.max_iou_distance,
                min_detection_score=config.min_detection_score,
            ),
            False,
        ),
    }


def evaluate_sequences(
    sequences: dict[str, list[Frame]], config: TrackConfig
) -> dict[str, dict[str, dict[str, float]]]:
    """tracker name -> sequence name (and OVERALL) -> metric -> value."""
    results = {}
    for tracker_name, (factory, use_appearance) in tracker_factories(config).items():
        accumulators = [
            accumulate(frames, run_tracker(factory(), frames, use_appearance))
            for frames in sequences.values()
        ]
        results[tracker_name] = score(accumulators, list(sequences))
    return results


def tud_sequences(seed: int, perturbation: Perturbation) -> dict[str, list[Frame]]:
    root = motmetrics_data_dir()
    return {
        name: perturbed_frames(
            load_mot_rows(root / name / "gt.txt"),
            np.random.default_rng([seed, index]),
            perturbation,
        )
        for index, name in enumerate(TUD_SEQUENCES)
    }


def mot17_sequences(data_dir: Path, embed: EmbedFunction | None) -> dict[str, list[Frame]]:
    root = data_dir / "mot17-mini"
    return {
        path.name: mot17_frames(path, embed)
        for path in sorted(root.iterdir())
        if (path / "img1").is_dir()
    }


def evaluate_tracking(
    data_dir: Path | str | None = None,
    embed: EmbedFunction | None = None,
    seed: int = 0,
    config: TrackConfig | None = None,
    perturbation: Perturbation | None = None,
) -> dict[str, Any]:
    """DeepSORT (with and without appearance) and SORT on perturbed TUD and on MOT17-mini.

    MOT17-mini is skipped (value None) when its folder is missing.
    """
    config = config or TrackConfig()
    perturbation = perturbation or Perturbation()
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    mot17: dict[str, Any] | None = None
    if (data_dir / "mot17-mini").is_dir():
        sequences = mot17_sequences(data_dir, embed)
        mot17 = {
            "results": evaluate_sequences(sequences, config),
            "frames": {name: len(frames) for name, frames in sequences.items()},
            "appearance": embed is not None,
        }
    tud = tud_sequences(seed, perturbation)
    return {
        "config": config.model_dump(),
        "seed": seed,
        "perturbation": perturbation,
        "tud": {
            "results": evaluate_sequences(tud, config),
            "frames": {name: len(frames) for name, frames in tud.items()},
        },
        "mot17": mot17,
    }


def _table(results: dict[str, dict[str, dict[str, float]]], sequences: Iterable[str]) -> list[str]:
    lines = [
        "| sequence | tracker | MOTA | IDF1 | ID switches | FP | FN | GT boxes |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for sequence in [*sequences, "OVERALL"]:
        for tracker_name, per_sequence in results.items():
            m = per_sequence[sequence]
            lines.append(
                f"| {sequence} | {tracker_name} | {100 * m['mota']:.1f} | "
                f"{100 * m['idf1']:.1f} | {m['num_switches']:.0f} | "
                f"{m['num_false_positives']:.0f} | {m['num_misses']:.0f} | "
                f"{m['num_objects']:.0f} |"
            )
    return lines


def format_markdown(result: dict[str, Any]) -> str:
    """The tracking section of docs/quality.md."""
    config = result["config"]
    p: Perturbation = result["perturbation"]
    lines = [
        "## Tracking: DeepSORT vs SORT",
        "",
        f"Tracker config: lambda_={config['lambda_']}, "
        f"max_cosine_distance={config['max_cosine_distance']}, "
        f"max_iou_distance={config['max_iou_distance']}, n_init={config['n_init']}, "
        f"max_age={config['max_age']}, gallery_size={config['gallery_size']}, "
        f"min_detection_score={config['min_detection_score']}. "
        "SORT: IoU >= 1 - max_iou_distance, max_age 1, min_hits = n_init, same Kalman filter. "
        "Only confirmed tracks matched in a frame are output, so the first n_init - 1 frames of "
        "every track count as misses for every tracker. MOTA and IDF1 in %, "
        "a hit needs IoU >= 0.5.",
        "",
        f"### TUD ground truth with perturbed boxes (seed {result['seed']})",
        "",
        f"Ground truth of TUD-Campus and TUD-Stadtmitte ({', '.join(f'{k}: {v} frames' for k, v in result['tud']['frames'].items())}) "  # noqa: E501
        f"turned into detections: box jitter {p.jitter:.0%} of the box size, "
        f"{p.drop_rate:.0%} of boxes dropped, {p.false_positives_per_frame} false positives per "
        "frame on average. Appearance is simulated (there are no images): each person is a "
        f"random {p.embedding_dim}-d unit vector sharing a common component with the others "
        f"(cosine ~0.5 between people), each detection adds noise of norm "
        f"{p.embedding_noise}; false positives get random vectors.",
        "",
        *_table(result["tud"]["results"], result["tud"]["frames"]),
        "",
    ]
    mot17 = result["mot17"]
    if mot17 is None:
        lines += ["MOT17-mini not found: skipped.", ""]
        return "\n".join(lines)
    appearance = (
        "appearance from the injected embedder"
        if mot17["appearance"]
        else "no embedder given, so DeepSORT has no appearance here"
    )
    lines += [
        "### MOT17-mini, public FRCNN detections",
        "",
        "Small sample: only the frames present in img1/ ("
        + ", ".join(f"{k}: {v}" for k, v in mot17["frames"].items())
        + f" frames); {appearance}. Ground truth: consider=1 and class=1; hypotheses on "
        "distractors (classes 2, 7, 8, 12) are dropped before scoring.",
        "",
        *_table(mot17["results"], mot17["frames"]),
        "",
    ]
    return "\n".join(lines)


def sweep(
    lambdas: Sequence[float],
    max_cosine_distances: Sequence[float],
    seeds: Sequence[int],
    base: TrackConfig | None = None,
    perturbation: Perturbation | None = None,
) -> list[dict[str, float]]:
    """DeepSORT on perturbed TUD for each (lambda_, max_cosine_distance), pooled over seeds.

    Tune on seeds other than the one reported, so the reported figure is not fitted to its noise.
    """
    base = base or TrackConfig()
    perturbation = perturbation or Perturbation()
    per_seed = [tud_sequences(seed, perturbation) for seed in seeds]
    rows = []
    for lambda_ in lambdas:
        for max_cosine_distance in max_cosine_distances:
            config = base.model_copy(
                update={"lambda_": lambda_, "max_cosine_distance": max_cosine_distance}
            )
            accumulators, names = [], []
            for seed, sequences in zip(seeds, per_seed, strict=True):
                for name, frames in sequences.items():
                    accumulators.append(accumulate(frames, run_tracker(Tracker(config), frames)))
                    names.append(f"{name}/{seed}")
            overall = score(accumulators, names)["OVERALL"]
            rows.append({"lambda_": lambda_, "max_cosine_distance": max_cosine_distance, **overall})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sweep", action="store_true", help="tune lambda_ and max_cosine_distance on seeds 1-3"
    )
    args = parser.parse_args(argv)
    if args.sweep:
        regimes = {"distinct": Perturbation(), "look-alike": LOOK_ALIKE}
        for regime, perturbation in regimes.items():
            print(f"\n{regime} appearance: {perturbation}\n")
            print("| lambda_ | max_cosine_distance | MOTA | IDF1 | ID switches |")
            print("|---:|---:|---:|---:|---:|")
            for row in sweep(
                [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0],
                [0.2, 0.3, 0.4],
                range(1, 4),
                perturbation=perturbation,
            ):
                print(
                    f"| {row['lambda_']} | {row['max_cosine_distance']} | "
                    f"{100 * row['mota']:.1f} | {100 * row['idf1']:.1f} | "
                    f"{row['num_switches']:.0f} |"
                )
        return
    print(format_markdown(evaluate_tracking(args.data_dir, seed=args.seed)))


if __name__ == "__main__":
    main()
