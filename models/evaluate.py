"""`streetwatch evaluate WEIGHTS DATA`: how good a detector is, per class and per source, honestly.

The metrics are COCO's definitions, computed here in numpy so that they can be checked against `pycocotools`
(the tests do, within 0.01): a detection matches the unmatched ground-truth box of its class with the highest IoU
at or above the threshold, detections are taken in descending confidence, at most 100 per image; AP is the area
under the monotone precision envelope sampled at 101 recall points; AP50-95 averages AP over IoU 0.50:0.05:0.95.

Beyond AP, what a reviewer's queue feels:
- precision and recall at the *review threshold* (the confidence above which a detection reaches a reviewer);
- the confusion matrix at that threshold (rows: true class or background, columns: predicted class or missed);
- per class, the share of images that contain none of that class on which the model still fires it at the review
  threshold (false-positive image rate), e.g. `illegal_ad` on real facades with licensed shop signs;
- all of it per source of the dataset's manifest as well (garbage-cn, garbage-street, synthetic/...), so a class
  that rests on synthetic data cannot hide behind it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vision.nms import box_iou

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100  # per image, as COCO's AP


@dataclass(frozen=True)
class ImageResult:
    """Ground truth and predictions of one image, in pixels."""

    name: str
    source: str
    gt_xyxy: npt.NDArray[np.float64]
    gt_classes: npt.NDArray[np.int64]
    pred_xyxy: npt.NDArray[np.float64]
    pred_scores: npt.NDArray[np.float64]
    pred_classes: npt.NDArray[np.int64]
    path: Path | None = None  # the image file, where the predictions came from one (error contact sheets)


@dataclass
class ClassMetrics:
    """One class's numbers (None where undefined: no ground truth, or no image without the class)."""

    name: str
    instances: int
    images: int
    ap50: float | None
    ap50_95: float | None
    precision: float | None
    recall: float | None
    false_positive_image_rate: float | None
    negative_images: int
    pr_curve: list[tuple[float, float]] = field(default_factory=list, repr=False)


def _top(result: ImageResult, class_id: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The image's detections of one class, best first, at most MAX_DETECTIONS (COCO caps per image and class)."""
    mine = np.nonzero(result.pred_classes == class_id)[0]
    order = mine[np.argsort(-result.pred_scores[mine], kind="stable")][:MAX_DETECTIONS]
    return result.pred_xyxy[order], result.pred_scores[order]


def match_by_score(
    gt: npt.NDArray[np.float64], pred: npt.NDArray[np.float64], threshold: float
) -> npt.NDArray[np.int64]:
    """For predictions in descending score order: the index of the unmatched ground truth each one takes (the one
    with the highest IoU at or above the threshold), or -1 for none."""
    ious = box_iou(pred, gt, np.float64)
    taken = np.zeros(len(gt), bool)
    matched = np.full(len(pred), -1, np.int64)
    for i in range(len(pred)):
        best, best_iou = -1, min(threshold, 1 - 1e-10)
        for j in range(len(gt)):
            if not taken[j] and ious[i, j] >= best_iou:
                best, best_iou = j, ious[i, j]
        if best >= 0:
            taken[best] = True
            matched[i] = best
    return matched


def average_precision(
    results: Sequence[ImageResult], class_id: int, threshold: float
) -> tuple[float | None, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """AP of one class at one IoU threshold (None without ground truth), with recall, precision and scores."""
    scores, hits = [], []
    total = 0
    for result in results:
        xyxy, score = _top(result, class_id)
        gt = result.gt_xyxy[result.gt_classes == class_id]
        total += len(gt)
        hits.append(match_by_score(gt, xyxy, threshold) >= 0)
        scores.append(score)
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    order = np.argsort(-all_scores, kind="mergesort")
    tp = np.concatenate(hits)[order] if hits else np.zeros(0, bool)
    if total == 0:
        return None, np.zeros(0), np.zeros(0), all_scores[order]
    tps, fps = np.cumsum(tp), np.cumsum(~tp)
    recall = tps / total
    precision = tps / np.maximum(tps + fps, np.finfo(np.float64).eps)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    sampled = np.zeros(len(RECALL_POINTS))
    where = np.searchsorted(recall, RECALL_POINTS, side="left")
    valid = where < len(envelope)
    sampled[valid] = envelope[where[valid]]
    return float(sampled.mean()), recall, precision, all_scores[order]


def class_metrics(
    results: Sequence[ImageResult], class_names: Sequence[str], review_threshold: float
) -> list[ClassMetrics]:
    """Per class: AP50, AP50-95, precision/recall at the review threshold, false-positive image rate."""
    metrics = []
    for class_id, name in enumerate(class_names):
        ap50, recall, precision, scores = average_precision(results, class_id, 0.5)  # IOU_THRESHOLDS[0]
        aps = [ap50, *(average_precision(results, class_id, float(t))[0] for t in IOU_THRESHOLDS[1:])]
        instances = sum(int((r.gt_classes == class_id).sum()) for r in results)
        above = scores >= review_threshold
        p = r = None
        if instances:
            kept = int(above.sum())
            true_positives = recall[above][-1] * instances if kept else 0.0
            r = float(true_positives / instances)
            p = float(true_positives / kept) if kept else None
        negatives = [res for res in results if not (res.gt_classes == class_id).any()]
        fired = sum(
            bool(((res.pred_classes == class_id) & (res.pred_scores >= review_threshold)).any()) for res in negatives
        )
        curve = [
            (float(a), float(b))
            for a, b in zip(
                recall[:: max(1, len(recall) // 200)], precision[:: max(1, len(recall) // 200)], strict=True
            )
        ]
        metrics.append(
            ClassMetrics(
                name=name,
                instances=instances,
                images=len(results) - len(negatives),
                ap50=ap50,
                ap50_95=float(np.mean(aps)) if ap50 is not None else None,  # type: ignore[arg-type]
                precision=p,
                recall=r,
                false_positive_image_rate=fired / len(negatives) if negatives else None,
                negative_images=len(negatives),
                pr_curve=curve,
            )
        )
    return metrics


def confusion_matrix(
    results: Iterable[ImageResult], num_classes: int, review_threshold: float, iou: float = 0.5
) -> npt.NDArray[np.int64]:
    """(nc + 1) x (nc + 1) counts; rows = true class (last: background), columns = predicted (last: missed).

    Predictions at or above the review threshold are matched to ground truth of any class by IoU >= `iou`, the
    highest IoU pairs first, so a box found with the wrong class counts in that class's column.
    """
    matrix = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    for result in results:
        keep = result.pred_scores >= review_threshold
        pred, pred_cls = result.pred_xyxy[keep], result.pred_classes[keep]
        ious = box_iou(result.gt_xyxy, pred, np.float64)
        gt_done = np.zeros(len(result.gt_xyxy), bool)
        pred_done = np.zeros(len(pred), bool)
        for flat in np.argsort(-ious, axis=None, kind="stable"):
            g, p = np.unravel_index(flat, ious.shape)
            if ious[g, p] < iou:
                break
            if gt_done[g] or pred_done[p]:
                continue
            gt_done[g] = pred_done[p] = True
            matrix[result.gt_classes[g], pred_cls[p]] += 1
        for g in np.nonzero(~gt_done)[0]:
            matrix[result.gt_classes[g], num_classes] += 1
        for p in np.nonzero(~pred_done)[0]:
            matrix[num_classes, pred_cls[p]] += 1
    return matrix


@dataclass
class Evaluation:
    """Everything `streetwatch evaluate` reports."""

    model: str
    dataset: str
    split: str
    review_threshold: float
    images: int
    classes: list[ClassMetrics]
    by_source: dict[str, list[ClassMetrics]]
    confusion: npt.NDArray[np.int64]
    class_names: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        def rows(metrics: list[ClassMetrics]) -> list[dict[str, Any]]:
            return [{k: v for k, v in m.__dict__.items() if k != "pr_curve"} for m in metrics]

        return {
            "model": self.model,
            "dataset": self.dataset,
            "split": self.split,
            "review_threshold": self.review_threshold,
            "images": self.images,
            "classes": rows(self.classes),
            "by_source": {source: rows(m) for source, m in self.by_source.items()},
            "confusion_matrix": {"labels": [*self.class_names, "background"], "counts": self.confusion.tolist()},
        }

    def table(self) -> str:
        """A Markdown table: overall, then per source, one row per class with ground truth or false positives."""
        lines = [
            "| subset | class | images | instances | AP50 | AP50-95 | P@thr | R@thr | FP-image rate |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for subset, metrics in [("all", self.classes), *sorted(self.by_source.items())]:
            for m in metrics:
                if not m.instances and not (m.false_positive_image_rate or 0):
                    continue
                fp = f"{m.false_positive_image_rate:.3f} of {m.negative_images}" if m.negative_images else "-"
                lines.append(
                    f"| {subset} | {m.name} | {m.images} | {m.instances} | {_fmt(m.ap50)} | {_fmt(m.ap50_95)} | "
                    f"{_fmt(m.precision)} | {_fmt(m.recall)} | {fp} |"
                )
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def evaluate_results(
    results: Sequence[ImageResult],
    class_names: Sequence[str],
    review_threshold: float,
    model: str = "",
    dataset: str = "",
    split: str = "val",
) -> Evaluation:
    """The full evaluation of already-computed predictions."""
    sources = sorted({r.source for r in results})
    by_source = {
        s: class_metrics([r for r in results if r.source == s], class_names, review_threshold) for s in sources
    }
    return Evaluation(
        model=model,
        dataset=dataset,
        split=split,
        review_threshold=review_threshold,
        images=len(results),
        classes=class_metrics(results, class_names, review_threshold),
        by_source=by_source if len(sources) > 1 else {},
        confusion=confusion_matrix(results, len(class_names), review_threshold),
        class_names=tuple(class_names),
    )


def load_ground_truth(dataset: Path, split: str) -> list[tuple[Path, str, Path]]:
    """(image, source, label file) of every image of `split` in a built dataset, from its manifest."""
    manifest = json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))
    return [
        (dataset / e["image"], e["source"], dataset / e["label"]) for e in manifest["entries"] if e["split"] == split
    ]


def predict_dataset(
    detector: Any,
    dataset: Path,
    split: str,
    class_names: Sequence[str],
    progress: Any = None,
    sources: Sequence[str] | None = None,
    frame_size: tuple[int, int] | None = None,
) -> list[ImageResult]:
    """Run `detector` (a vision.Detector, low confidence threshold) over a split; ground truth from the labels.

    `sources` keeps only the images of those manifest sources (e.g. the wide patrol-car frames). `frame_size`
    (width, height) resizes every image first, boxes with it: patrol frames downscaled for storage, measured at
    the size the camera delivers (1920 x 1080), where tiles show objects as large as in the camera's frames.
    """
    import cv2

    from datasets.yolo import read_labels
    from vision.images import load_image

    results = []
    entries = [e for e in load_ground_truth(dataset, split) if sources is None or e[1] in sources]
    for image_path, source, label_path in entries if progress is None else progress(entries):
        image = load_image(image_path)
        if frame_size is not None:
            image = np.asarray(cv2.resize(image, frame_size, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
        h, w = image.shape[:2]
        labels, issues = read_labels(label_path, len(class_names))
        if issues:
            raise ValueError(f"{label_path}: {issues[0]}")
        found = detector.detect(image)
        results.append(
            ImageResult(
                name=image_path.name,
                source=source,
                gt_xyxy=labels.xyxy(w, h).astype(np.float64).reshape(-1, 4),
                gt_classes=labels.class_ids.astype(np.int64),
                pred_xyxy=found.xyxy.astype(np.float64).reshape(-1, 4),
                pred_scores=found.confidence.astype(np.float64),
                pred_classes=found.class_id.astype(np.int64),
                path=image_path,
            )
        )
    return results


def write_report(evaluation: Evaluation, out: Path) -> None:
    """metrics.json, report.md, confusion_matrix.png and one PR curve PNG per class with ground truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(evaluation.to_json(), indent=2) + "\n", encoding="utf-8")
    e = evaluation
    header = f"# Evaluation of {e.model} on {e.dataset} ({e.split}, {e.images} images)\n\n"
    note = f"Review threshold {evaluation.review_threshold}: P, R and FP-image rate are counted at or above it.\n\n"
    (out / "report.md").write_text(header + note + evaluation.table() + "\n", encoding="utf-8")
    labels = [*evaluation.class_names, "background"]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(evaluation.confusion, cmap="Blues")
    for (i, j), value in np.ndenumerate(evaluation.confusion):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(labels)), [*evaluation.class_names, "missed"], rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion at confidence >= {evaluation.review_threshold}, IoU >= 0.5")
    fig.tight_layout()
    fig.savefig(out / "confusion_matrix.png", dpi=100)
    plt.close(fig)
    for metrics in evaluation.classes:
        if not metrics.pr_curve:
            continue
        recall, precision = zip(*metrics.pr_curve, strict=True)
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(recall, precision)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{metrics.name}: AP50 {_fmt(metrics.ap50)}")
        fig.tight_layout()
        fig.savefig(out / f"pr_{metrics.name}.png", dpi=100)
        plt.close(fig)
