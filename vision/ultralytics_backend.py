"""`UltralyticsDetector`: the same YOLO model through ultralytics/torch, for GPU servers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vision.detections import Detections
from vision.detector import DetectorBase, prepare_batch
from vision.errors import ModelLoadError
from vision.images import ImageArray
from vision.ultralytics_env import import_ultralytics
from vision.yolo_head import DetectionSettings

logger = logging.getLogger(__name__)


def default_device() -> str:
    """'cuda:0' when torch sees a GPU, else 'cpu'."""
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


class UltralyticsDetector(DetectorBase):
    """A YOLO `.pt` checkpoint run with torch; fp16 on GPU. Pre-processing is shared with `OnnxDetector`.

    `imgsz` overrides the input size the checkpoint was trained at (e.g. to compare with a 320 px export).
    """

    def __init__(
        self,
        weights: Path | str,
        settings: DetectionSettings = DetectionSettings(),
        device: str | None = None,
        half: bool | None = None,
        imgsz: int | None = None,
    ) -> None:
        path = Path(weights)
        if not path.is_file():
            raise ModelLoadError(f"{path}: model file not found")
        ultralytics = import_ultralytics()
        import torch

        try:
            model = ultralytics.YOLO(str(path), task="detect").model
        except Exception as error:  # torch.load / unpickling fail in many ways on a bad file
            raise ModelLoadError(f"{path}: not a loadable YOLO checkpoint ({type(error).__name__}: {error})") from error
        self.device = torch.device(device or default_device())
        self.half = bool(half if half is not None else self.device.type == "cuda")
        if self.half and self.device.type != "cuda":
            raise ValueError(f"half precision needs a CUDA device, got {self.device}")
        # Fusing Conv+BN changes only this in-memory model; the checkpoint on disk stays unfused (trainable).
        network: Any = model.fuse().eval().to(self.device)
        self._network = network.half() if self.half else network.float()
        # Ultralytics' Detect head caches its anchor grid on the module, keyed by the last input shape; two threads
        # with different input shapes would race on it. Only the forward pass is serialized (a GPU runs one batch
        # at a time anyway); letterbox, NMS and box mapping stay parallel.
        self._forward_lock = threading.Lock()
        super().__init__(model.names, imgsz or getattr(model, "args", {}).get("imgsz", 640))
        self.path = path
        self.settings = settings
        logger.info("loaded %s on %s (half=%s), %d classes", path, self.device, self.half, len(self._class_names))

    def detect_batch(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detections per image, one forward pass for the whole batch."""
        import torch
        from ultralytics.utils.nms import non_max_suppression

        if not images:
            return []
        blob, transforms = prepare_batch(images, self._input_size, rect=self.settings.rect)
        tensor = torch.from_numpy(blob).to(self.device)
        tensor = tensor.half() if self.half else tensor
        with torch.inference_mode():
            with self._forward_lock:
                raw = self._network(tensor)
            kept = non_max_suppression(
                raw,
                conf_thres=self.settings.confidence_threshold,
                iou_thres=self.settings.iou_threshold,
                max_det=self.settings.max_detections,
            )
        results = []
        for rows, transform in zip(kept, transforms, strict=True):
            rows_np = rows.float().cpu().numpy()
            results.append(
                Detections(
                    transform.to_original(rows_np[:, :4]),
                    rows_np[:, 4],
                    rows_np[:, 5].astype(np.int64),
                )
            )
        return results
