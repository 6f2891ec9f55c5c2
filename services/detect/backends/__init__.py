"""Person detection backends behind one interface, chosen by `DetectConfig.backend`."""

from __future__ import annotations

import logging

from services.detect.backends.base import COCO_KEYPOINTS, Person, PersonDetector
from services.detect.config import DetectConfig

__all__ = ["COCO_KEYPOINTS", "Person", "PersonDetector", "create_detector"]

logger = logging.getLogger(__name__)


def create_detector(config: DetectConfig, with_pose: bool = True) -> PersonDetector:
    """Build the configured backend, loading (and verifying) its models.

    `with_pose=False` skips the per-person pose model of the top-down backends (boxes only, zero
    keypoint confidence): for scoring boxes.

    Raises vigil.models.ModelError (naming `vigil models fetch`) when a model is missing or corrupt.
    """
    # imported here so that choosing one backend never loads the others' models
    from services.detect.backends.single_pose import SinglePoseEstimator
    from services.detect.backends.top_down import TopDownDetector
    from vigil.models import load_graph
    from vigil.models.runtime import configure_threads

    if config.intra_op_threads and not configure_threads(config.intra_op_threads):
        # TF's pools are fixed once it has run an op; the setting needs a fresh process
        logger.warning(
            "intra_op_threads=%d ignored: TensorFlow already started", config.intra_op_threads
        )
    if config.backend == "movenet_multipose":
        from services.detect.backends.movenet_multipose import MoveNetMultiPoseDetector

        return MoveNetMultiPoseDetector(config)
    with_pose = with_pose and (config.backend == "centernet_movenet" or config.yolo.pose)
    pose_model = load_graph(config.pose_model, cache_dir=config.model_dir) if with_pose else None
    pose = SinglePoseEstimator(pose_model) if pose_model is not None else None
    if config.backend == "centernet_movenet":
        from services.detect.backends.centernet import DETECTIONS_OUTPUT, MODEL_NAME, CenterNetBoxes

        finder = CenterNetBoxes(load_graph(MODEL_NAME, (DETECTIONS_OUTPUT,), config.model_dir))
        return TopDownDetector(config, finder, pose)
    from services.detect.backends.yolo import YoloBoxes

    return TopDownDetector(config, YoloBoxes(config.yolo), pose)
