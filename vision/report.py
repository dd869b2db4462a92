"""Writing detection results of a batch of images: annotated copies, JSON and CSV."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from vision.annotate import draw_detections
from vision.detections import Detections
from vision.images import ImageArray
from vision.spreadsheet import safe_cell
from vision.taxonomy import Taxonomy

CSV_COLUMNS = ("image", "class_id", "class_name", "confidence", "x1", "y1", "x2", "y2")


@dataclass
class DetectionReport:
    """Collects per-image detections and skipped files, then writes them under `out_dir`."""

    out_dir: Path
    class_names: tuple[str, ...]
    model: str
    taxonomy: Taxonomy | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def add(self, source: Path, image: ImageArray, detections: Detections) -> Path:
        """Record one image's detections and write its annotated copy; returns the copy's path."""
        annotated_dir = self.out_dir / "annotated"
        annotated_dir.mkdir(parents=True, exist_ok=True)
        target = annotated_dir / f"{source.stem}.jpg"
        if not cv2.imwrite(str(target), draw_detections(image, detections, self.class_names, self.taxonomy)):
            raise OSError(f"could not write {target}")
        height, width = image.shape[:2]
        self.images.append(
            {
                "image": str(source),
                "width": width,
                "height": height,
                "annotated": str(target),
                "detections": detections.to_records(self.class_names),
            }
        )
        return target

    def skip(self, source: Path, reason: str) -> None:
        """Record a file that was not processed, and why."""
        self.skipped.append({"image": str(source), "reason": reason})

    def write(self) -> tuple[Path, Path]:
        """Write detections.json and detections.csv; returns both paths."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        json_path, csv_path = self.out_dir / "detections.json", self.out_dir / "detections.csv"
        payload = {
            "model": self.model,
            "class_names": list(self.class_names),
            "images": self.images,
            "skipped": self.skipped,
        }
        json_path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for entry in self.images:
                for det in entry["detections"]:
                    row = [entry["image"], det["class_id"], det["class_name"], det["confidence"], *det["xyxy"]]
                    writer.writerow([safe_cell(cell) for cell in row])
        return json_path, csv_path
