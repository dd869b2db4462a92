"""Where a model goes wrong at the review threshold: every false alarm and every miss, with a likely cause.

`streetwatch evaluate --errors` writes `errors.csv` (one row per error) and one contact sheet per source, class
and kind under `errors/`, so a model engineer can look at the errors instead of guessing from AP. Matching is
the evaluation's own (per class, best score first, IoU >= 0.5), restricted to detections at or above the review
threshold: what a reviewer would see.

A cause is a hint for the person looking, not a verdict (whether an unlabelled detection is a real object the
labels missed needs a human):
- false alarm: `duplicate` (a second box on a labelled object already found), `other_class` (on a labelled object
  of another class), `overlaps_label` (one box lies mostly inside a label of its class: a pile boxed as parts, or
  parts boxed as one pile), `no_label` (no label of its class near it);
- missed: `near_threshold` (found at IoU >= 0.5 with at least half the review threshold: a lower threshold would
  show it), `other_class` (found as another class), `overlaps_detection` (a detection of its class at the
  threshold lies mostly inside it or around it), `not_found`.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from models.evaluate import ImageResult, match_by_score
from vision.nms import box_iou, box_overlap_of_smaller

MATCH_IOU = 0.5
OVERLAP = 0.5  # intersection over the smaller box's area, for "lies mostly inside"
TILE = 200  # px, one crop of a contact sheet
COLUMNS = 8
MAX_TILES = 48  # per sheet; errors.csv lists them all

Kind = Literal["false_alarm", "missed"]


@dataclass(frozen=True)
class DetectionError:
    """One false alarm or one miss at the review threshold."""

    image: str
    source: str
    class_name: str
    kind: Kind
    cause: str
    score: float | None  # the false alarm's score; for a miss, the best score of its class at IoU >= 0.5 (if any)
    iou: float  # best IoU with a label (false alarm) or a detection at the threshold (miss) of its class
    xyxy: tuple[float, float, float, float]
    path: Path | None = None

    @property
    def long_side(self) -> float:
        return max(self.xyxy[2] - self.xyxy[0], self.xyxy[3] - self.xyxy[1])


def _best(values: npt.NDArray[np.float64], row: int) -> float:
    return float(values[row].max()) if values.shape[1] else 0.0


def find_errors(
    results: Sequence[ImageResult], class_names: Sequence[str], review_threshold: float
) -> list[DetectionError]:
    """Every false alarm and miss of every class, in image order."""
    errors: list[DetectionError] = []
    for result in results:
        shown = result.pred_scores >= review_threshold
        for class_id, name in enumerate(class_names):
            gt_mine = result.gt_classes == class_id
            gt, gt_other = result.gt_xyxy[gt_mine], result.gt_xyxy[~gt_mine]
            mine = result.pred_classes == class_id
            picked = np.nonzero(shown & mine)[0]
            picked = picked[np.argsort(-result.pred_scores[picked], kind="stable")]
            pred = result.pred_xyxy[picked]
            taken = match_by_score(gt, pred, MATCH_IOU)
            alarms = taken < 0
            errors += _false_alarms(result, name, pred[alarms], result.pred_scores[picked][alarms], gt, gt_other)
            found = np.zeros(len(gt), bool)
            found[taken[~alarms]] = True
            others = result.pred_xyxy[shown & ~mine]
            below = result.pred_xyxy[~shown & mine]
            below_scores = result.pred_scores[~shown & mine]
            errors += _misses(result, name, gt[~found], pred, others, below, below_scores, review_threshold)
    return errors


def _false_alarms(
    result: ImageResult,
    name: str,
    boxes: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64],
    gt: npt.NDArray[np.float64],
    gt_other: npt.NDArray[np.float64],
) -> list[DetectionError]:
    iou, iou_other = box_iou(boxes, gt, np.float64), box_iou(boxes, gt_other, np.float64)
    inside = box_overlap_of_smaller(boxes, gt)
    out = []
    for i, (box, score) in enumerate(zip(boxes, scores, strict=True)):
        if _best(iou, i) >= MATCH_IOU:
            cause = "duplicate"
        elif _best(iou_other, i) >= MATCH_IOU:
            cause = "other_class"
        elif _best(inside, i) >= OVERLAP:
            cause = "overlaps_label"
        else:
            cause = "no_label"
        out.append(_error(result, name, "false_alarm", cause, float(score), _best(iou, i), box))
    return out


def _misses(
    result: ImageResult,
    name: str,
    missed: npt.NDArray[np.float64],
    pred: npt.NDArray[np.float64],
    others: npt.NDArray[np.float64],
    below: npt.NDArray[np.float64],
    below_scores: npt.NDArray[np.float64],
    review_threshold: float,
) -> list[DetectionError]:
    iou, iou_other = box_iou(missed, pred, np.float64), box_iou(missed, others, np.float64)
    iou_below, inside = box_iou(missed, below, np.float64), box_overlap_of_smaller(missed, pred)
    out = []
    for i, box in enumerate(missed):
        close = iou_below[i] >= MATCH_IOU if len(below) else np.zeros(0, bool)
        score = float(below_scores[close].max()) if close.any() else None
        if score is not None and score >= review_threshold / 2:
            cause = "near_threshold"
        elif _best(iou_other, i) >= MATCH_IOU:
            cause = "other_class"
        elif _best(inside, i) >= OVERLAP:
            cause = "overlaps_detection"
        else:
            cause = "not_found"
        out.append(_error(result, name, "missed", cause, score, _best(iou, i), box))
    return out


def _error(
    result: ImageResult,
    name: str,
    kind: Kind,
    cause: str,
    score: float | None,
    iou: float,
    box: npt.NDArray[np.float64],
) -> DetectionError:
    x0, y0, x1, y1 = (float(v) for v in box)
    return DetectionError(result.name, result.source, name, kind, cause, score, iou, (x0, y0, x1, y1), result.path)


def summary_table(errors: Sequence[DetectionError]) -> str:
    """A Markdown table: per source, class and kind, how many errors of each cause."""
    counts = Counter((e.source, e.class_name, e.kind, e.cause) for e in errors)
    groups = sorted({key[:3] for key in counts})
    lines = ["| source | class | kind | errors | causes |", "|---|---|---|---:|---|"]
    for group in groups:
        causes = sorted(((n, c) for (*g, c), n in counts.items() if tuple(g) == group), reverse=True)
        text = ", ".join(f"{cause} {n}" for n, cause in causes)
        lines.append(f"| {group[0]} | {group[1]} | {group[2]} | {sum(n for n, _ in causes)} | {text} |")
    return "\n".join(lines)


def write_errors(
    errors: Sequence[DetectionError],
    results: Sequence[ImageResult],
    class_names: Sequence[str],
    review_threshold: float,
    out: Path,
) -> list[Path]:
    """errors.csv and the contact sheets (one per source, class and kind); returns the sheets written."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "errors.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["image", "source", "class", "kind", "cause", "score", "iou", "x0", "y0", "x1", "y1", "long_side"]
        )
        for e in errors:
            score = "" if e.score is None else f"{e.score:.3f}"
            box = [f"{v:.1f}" for v in e.xyxy]
            writer.writerow(
                [e.image, e.source, e.class_name, e.kind, e.cause, score, f"{e.iou:.3f}", *box, f"{e.long_side:.1f}"]
            )
    labels = {(r.source, r.name): r for r in results}
    sheets = []
    groups: dict[tuple[str, str, Kind], list[DetectionError]] = defaultdict(list)
    for e in errors:
        if e.path is not None:
            groups[(e.source, e.class_name, e.kind)].append(e)
    for (source, name, kind), mine in sorted(groups.items()):
        mine.sort(key=lambda e: -(e.score or 0.0) if kind == "false_alarm" else e.long_side)
        tiles = [_tile(e, labels[(e.source, e.image)], class_names, review_threshold) for e in mine[:MAX_TILES]]
        sheet = out / "errors" / f"{_slug(source)}.{name}.{kind}.jpg"
        sheet.parent.mkdir(exist_ok=True)
        _write_sheet(tiles, sheet)
        sheets.append(sheet)
    return sheets


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)


def _tile(
    error: DetectionError, result: ImageResult, class_names: Sequence[str], review_threshold: float
) -> npt.NDArray[np.uint8]:
    """The error's box in context: labels of its class green, other labels grey, its class's detections at the
    review threshold blue, the error red (false alarm) or yellow (missed); its score, cause, size and image."""
    import cv2

    from vision.images import load_image

    assert error.path is not None
    image = load_image(error.path)
    height, width = image.shape[:2]
    box = np.array(error.xyxy)
    centre = (box[:2] + box[2:]) / 2
    half = max(error.long_side * 0.8, 32.0)
    x0, y0 = int(max(0.0, centre[0] - half)), int(max(0.0, centre[1] - half))
    x1, y1 = int(min(width, centre[0] + half)), int(min(height, centre[1] + half))
    tile = cv2.resize(image[y0:y1, x0:x1], (TILE, TILE), interpolation=cv2.INTER_AREA)
    scale = np.array([TILE / max(1, x1 - x0), TILE / max(1, y1 - y0)] * 2)
    offset = np.array([x0, y0] * 2, np.float64)

    def draw(xyxy: npt.NDArray[np.float64], colour: tuple[int, int, int], thickness: int) -> None:
        corners = (xyxy - offset) * scale
        cv2.rectangle(tile, _point(corners[:2]), _point(corners[2:]), colour, thickness)

    mine = class_names.index(error.class_name)
    for label, class_id in zip(result.gt_xyxy, result.gt_classes, strict=True):
        draw(label, (0, 200, 0) if class_id == mine else (160, 160, 160), 1)
    shown = (result.pred_classes == mine) & (result.pred_scores >= review_threshold)
    for detection in result.pred_xyxy[shown]:
        draw(detection, (255, 128, 0), 1)
    draw(box, (0, 0, 255) if error.kind == "false_alarm" else (0, 230, 255), 2)
    score = "" if error.score is None else f"{error.score:.2f} "
    for text, row in ((f"{score}{error.cause}", 14), (f"{error.long_side:.0f}px {error.image[-24:]}", TILE - 6)):
        cv2.putText(tile, text, (3, row), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, text, (3, row), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return np.asarray(tile, np.uint8)


def _point(xy: npt.NDArray[np.float64]) -> tuple[int, int]:
    return round(float(xy[0])), round(float(xy[1]))


def _write_sheet(tiles: list[npt.NDArray[np.uint8]], path: Path) -> None:
    import cv2

    columns = min(COLUMNS, len(tiles))
    rows = -(-len(tiles) // columns)
    sheet = np.zeros((rows * TILE, columns * TILE, 3), np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE] = tile
    if not cv2.imwrite(str(path), sheet, [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise OSError(f"{path}: could not write the contact sheet")
