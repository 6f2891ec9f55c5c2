"""The detect networks' own time on a GPU, for sizing GPU nodes where TensorFlow cannot run.

Two steps on two machines (docs/operations.md, "Size it"):

    make bench-gpu-export       # here: frozen graphs -> ONNX + TensorFlow's outputs on a real frame
    python gpu_networks.py time EXPORT_DIR --device cuda --out gpu.json   # on the GPU machine

`time` needs only NumPy, PyTorch, onnx and onnx2torch (its wheel is put in EXPORT_DIR), so it runs
on any machine with PyTorch and CUDA; it imports nothing from Vigil. It first checks every
converted network against TensorFlow's outputs, then times it with CUDA events. This is a proxy:
the same weights and operations under PyTorch's eager runtime, not the TensorFlow runtime of the
GPU image, so per-call overheads differ; the FLOP-bound parts are comparable.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# Network -> the input shape the detect service feeds it. CenterNet and MoveNet SinglePose are
# fixed at batch 1; MultiPose is exported at 384x640 (the default input_size 640 of a 16:9 frame).
INPUTS: dict[str, tuple[int, int, int, int]] = {
    "centernet": (1, 512, 512, 3),
    "movenet_lightning": (1, 192, 192, 3),
    "mobilenetv2_embedder": (1, 224, 224, 3),
    "movenet_multipose": (1, 384, 640, 3),
}
BATCHES = {"mobilenetv2_embedder": (1, 8, 16, 32, 64)}  # the others take batch 1 only
FIXED_SHAPE = {"movenet_multipose"}  # dynamic H, W: exported at INPUTS' shape (explicit padding)
ASYMMETRIC_RESIZE = {"centernet"}  # its upsamplings use ONNX's "asymmetric" coordinates
REFERENCE_FRAME = "mot17-mini/MOT17-04-FRCNN/img1/000001.jpg"  # a crowded street
TILES_PER_FRAME = 2  # a 1280x720 frame under the default TilingConfig (2x1)
EMBED_BATCH = 8  # DetectConfig.batch_size


def export(out: Path) -> None:
    """ONNX files of the detect networks, TensorFlow's outputs on a real frame (reference.npz)."""
    import cv2
    import tensorflow as tf
    import tf2onnx
    from tensorflow.core.framework import graph_pb2

    from vigil.models.cache import default_cache_dir, verified_path
    from vigil.settings import dataset_dir

    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((default_cache_dir() / "manifest.json").read_text())["models"]
    image = cv2.imread(str(dataset_dir() / REFERENCE_FRAME))
    if image is None:
        raise SystemExit(f"cannot read {dataset_dir() / REFERENCE_FRAME} (VIGIL_DATA_DIR?)")
    frame = image[:, :, ::-1]
    reference: dict[str, np.ndarray] = {}
    for name, shape in INPUTS.items():
        entry = manifest[name]
        graph_def = graph_pb2.GraphDef()
        graph_def.ParseFromString(verified_path(name).read_bytes())
        with tf.Graph().as_default() as graph:
            tf.import_graph_def(graph_def, name="")
        dtype = graph.get_tensor_by_name(entry["inputs"][0]).dtype.as_numpy_dtype
        x = cv2.resize(frame, (shape[2], shape[1]))[None].astype(dtype)
        with tf.compat.v1.Session(graph=graph) as session:
            outputs = session.run(entry["outputs"], {entry["inputs"][0]: x})
        reference[f"{name}__in"] = x
        reference.update({f"{name}__out{i}": y for i, y in enumerate(outputs)})
        tf2onnx.convert.from_graph_def(
            graph_def, input_names=entry["inputs"], output_names=entry["outputs"], opset=17,
            shape_override={entry["inputs"][0]: list(shape)} if name in FIXED_SHAPE else None,
            output_path=str(out / f"{name}.onnx"))
        print(f"exported {name}", flush=True)
    np.savez_compressed(out / "reference.npz", allow_pickle=False, **reference)


def _patch_onnx2torch() -> None:
    """Three gaps of onnx2torch 1.5.15 that these graphs hit, closed without changing them."""
    import torch
    from onnx2torch.node_converters import resize, split
    from onnx2torch.node_converters.comparisons import OnnxCompare
    from onnx2torch.node_converters.registry import add_converter
    from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node

    # A Split with one output (TF's unstack of a size-1 axis) must give a tensor, not a 1-tuple.
    for cls in (split.OnnxSplit, split.OnnxSplit13):
        def split_forward(self: Any, *args: Any, _split: Any = cls.forward) -> Any:
            out = _split(self, *args)
            return out[0] if self.num_splits == 1 else out
        cls.forward = split_forward

    # PyTorch has no "asymmetric" linear upsampling; for an integer factor s it is align_corners
    # interpolation to s*(n-1)+1, then s-1 repeated edge rows and columns.
    plain_resize = resize.OnnxResize.forward

    def resize_forward(self: Any, x: Any, roi: Any = None, scales: Any = None,
                       sizes: Any = None) -> Any:
        if not getattr(self, "asymmetric", False):
            return plain_resize(self, x, roi, scales, sizes)
        if sizes is not None and sizes.nelement():
            height, width = (int(v) for v in sizes.tolist()[2:])
        else:
            scale_h, scale_w = scales.tolist()[2:]
            height, width = round(x.shape[2] * scale_h), round(x.shape[3] * scale_w)
        s = height // x.shape[2]
        if (height, width) != (s * x.shape[2], s * x.shape[3]):
            raise NotImplementedError("asymmetric resize: integer upsampling only")
        size = (s * (x.shape[2] - 1) + 1, s * (x.shape[3] - 1) + 1)
        y = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return torch.nn.functional.pad(y, (0, s - 1, 0, s - 1), mode="replicate")

    resize.OnnxResize.forward = resize_forward

    # GreaterOrEqual / LessOrEqual of opset 16 mean what opset 12's do.
    for op in ("GreaterOrEqual", "LessOrEqual"):
        add_converter(operation_type=op, version=16)(
            lambda node, graph: OperationConverterResult(
                torch_module=OnnxCompare(node.operation_type),
                onnx_mapping=onnx_mapping_from_node(node)))


def _load(folder: Path, name: str, device: Any) -> Any:
    """The ONNX network as a PyTorch module; pooling's auto_pad=SAME_UPPER made explicit."""
    import onnx
    from onnx2torch import convert
    from onnx2torch.node_converters.resize import OnnxResize

    model = onnx.load(str(folder / f"{name}.onnx"))
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        same = "auto_pad" in attrs and attrs["auto_pad"].s == b"SAME_UPPER"
        if node.op_type == "MaxPool" and same:
            kernel = list(attrs["kernel_shape"].ints)
            if any(k % 2 == 0 for k in kernel) or set(attrs["strides"].ints) - {1}:
                raise NotImplementedError(f"{name}: SAME pooling with stride or even kernel")
            node.attribute.remove(attrs["auto_pad"])
            pads = [(k - 1) // 2 for k in kernel] * 2
            node.attribute.append(onnx.helper.make_attribute("pads", pads))
    module = convert(model).to(device).eval()
    for layer in module.modules():
        if isinstance(layer, OnnxResize):
            layer.asymmetric = name in ASYMMETRIC_RESIZE
    return module


def _networks(folder: Path, names: Any, device: Any, reference: Any) -> tuple[dict, dict]:
    """The named networks as PyTorch modules on `device`, and their reference inputs there."""
    import torch

    models = {name: _load(folder, name, device) for name in names}
    inputs = {name: torch.from_numpy(reference[f"{name}__in"]).to(device) for name in names}
    return models, inputs


def _call(model: Any, x: Any, batch: int) -> object:
    return model(x.repeat(batch, 1, 1, 1))


def _output_error(name: str, index: int, got: np.ndarray, want: np.ndarray) -> float:
    """Largest difference relative to the output's range."""
    if name == "centernet" and index == 2:  # (100, 6) boxes: near-tied rows swap; compare scores
        got, want = np.sort(got[..., 4]), np.sort(want[..., 4])
    return float(np.max(np.abs(got - want)) / max(float(np.ptp(want)), 1e-9))


def time_networks(folder: Path, device_name: str, repeats: int = 50) -> dict[str, Any]:
    import torch

    _patch_onnx2torch()
    device = torch.device(device_name)
    reference = np.load(folder / "reference.npz")

    def timed(fn: Callable[[], object], count: int) -> dict[str, float]:
        with torch.inference_mode():
            for _ in range(5):
                fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
                marks = [tuple(torch.cuda.Event(enable_timing=True) for _ in "se")
                         for _ in range(count)]
                for start, end in marks:
                    start.record()
                    fn()
                    end.record()
                torch.cuda.synchronize()
                ms = [start.elapsed_time(end) for start, end in marks]
            else:
                ms = []
                for _ in range(count):
                    began = time.perf_counter()
                    fn()
                    ms.append((time.perf_counter() - began) * 1e3)
        return {"p50": float(np.median(ms)), "p90": float(np.percentile(ms, 90))}

    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "networks": {}}
    models, inputs = _networks(folder, INPUTS, device, reference)
    for name in INPUTS:
        with torch.inference_mode():
            outputs = models[name](inputs[name])
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        errors = [_output_error(name, i, y.float().cpu().numpy(), reference[f"{name}__out{i}"])
                  for i, y in enumerate(outputs)]
        ms = {str(b): timed(functools.partial(_call, models[name], inputs[name], b), repeats)
              for b in BATCHES.get(name, (1,))}
        report["networks"][name] = {"max_error_vs_tensorflow": errors, "ms_by_batch": ms}
        print(name, json.dumps(report["networks"][name]), flush=True)

    for backend in FRAME:
        report[f"frame_ms_{backend}"] = {
            str(people): timed(functools.partial(FRAME[backend], models, inputs, people),
                               repeats // 2)
            for people in (0, 5, 20) if people <= MAX_PEOPLE[backend]}
        print(backend, json.dumps(report[f"frame_ms_{backend}"]), flush=True)
    return report


def _embed(models: dict[str, Any], inputs: dict[str, Any], people: int) -> None:
    for start in range(0, people, EMBED_BATCH):
        batch = min(EMBED_BATCH, people - start)
        models["mobilenetv2_embedder"](inputs["mobilenetv2_embedder"].repeat(batch, 1, 1, 1))


def _centernet_movenet(models: dict[str, Any], inputs: dict[str, Any], people: int) -> None:
    """One 1280x720 frame under the default backend: boxes per tile, then pose per person."""
    for _ in range(TILES_PER_FRAME):
        models["centernet"](inputs["centernet"])
    for _ in range(people):
        models["movenet_lightning"](inputs["movenet_lightning"])
    _embed(models, inputs, people)


def _movenet_multipose(models: dict[str, Any], inputs: dict[str, Any], people: int) -> None:
    """The same frame under movenet_multipose: one call, whatever the number of people."""
    models["movenet_multipose"](inputs["movenet_multipose"])
    _embed(models, inputs, people)


FRAME = {"centernet_movenet": _centernet_movenet, "movenet_multipose": _movenet_multipose}
MAX_PEOPLE = {"centernet_movenet": 100, "movenet_multipose": 6}
FRAME_NETWORKS = {"centernet_movenet": ("centernet", "movenet_lightning", "mobilenetv2_embedder"),
                  "movenet_multipose": ("movenet_multipose", "mobilenetv2_embedder")}


def _throughput_worker(folder: Path, device_name: str, backend: str, people: int,
                       seconds: float, start_at: Any, frames: Any) -> None:
    import torch

    _patch_onnx2torch()
    device = torch.device(device_name)
    models, inputs = _networks(folder, FRAME_NETWORKS[backend], device,
                               np.load(folder / "reference.npz"))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        for _ in range(5):
            FRAME[backend](models, inputs, people)
        sync()
        start_at.wait()  # every process starts counting together
        count, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            FRAME[backend](models, inputs, people)
            sync()  # a frame counts once its results would be back
            count += 1
    frames.put(count)


def throughput(folder: Path, device_name: str, processes: list[int], people: int,
               seconds: float) -> dict[str, Any]:
    """Frames/s of N detect-like processes sharing one GPU (each its own CUDA context)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    report: dict[str, Any] = {"people": people, "seconds": seconds}
    for backend in FRAME:
        rows = {}
        for count in processes:
            start_at, frames = context.Barrier(count), context.Queue()
            workers = [context.Process(target=_throughput_worker, args=(
                folder, device_name, backend, people, seconds, start_at, frames))
                for _ in range(count)]
            for worker in workers:
                worker.start()
            total = sum(frames.get() for _ in workers)
            for worker in workers:
                worker.join()
            rows[str(count)] = {"frames_per_s": round(total / seconds, 1)}
            print(backend, count, rows[str(count)], flush=True)
        report[backend] = rows
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export", help="ONNX files + TensorFlow reference outputs")
    export_cmd.add_argument("out", type=Path)
    time_cmd = commands.add_parser("time", help="check and time the networks under PyTorch")
    time_cmd.add_argument("folder", type=Path)
    time_cmd.add_argument("--device", default="cuda")
    time_cmd.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "gpu.json")
    load_cmd = commands.add_parser("throughput", help="frames/s of N processes on one GPU")
    load_cmd.add_argument("folder", type=Path)
    load_cmd.add_argument("--device", default="cuda")
    load_cmd.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4, 8])
    load_cmd.add_argument("--people", type=int, default=5)
    load_cmd.add_argument("--seconds", type=float, default=15.0)
    load_cmd.add_argument("--out", type=Path,
                          default=Path(os.environ.get("OUT", ".")) / "gpu_throughput.json")
    args = parser.parse_args(argv)
    if args.command == "export":
        export(args.out)
        return 0
    if args.command == "time":
        report = time_networks(args.folder, args.device)
    else:
        report = throughput(args.folder, args.device, args.processes, args.people, args.seconds)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
