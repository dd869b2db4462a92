"""The evaluation metrics: known answers on a tiny set, and COCO's own implementation on a random one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.evaluate import ImageResult, class_metrics, confusion_matrix, evaluate_results, write_report


def _image(name: str, gt: list[tuple[float, ...]], pred: list[tuple[float, ...]], source: str = "s") -> ImageResult:
    """gt rows (x0, y0, x1, y1, class); pred rows (x0, y0, x1, y1, score, class)."""
    g = np.array(gt, float).reshape(-1, 5)
    p = np.array(pred, float).reshape(-1, 6)
    return ImageResult(name, source, g[:, :4], g[:, 4].astype(np.int64), p[:, :4], p[:, 4], p[:, 5].astype(np.int64))


def test_known_answers_on_a_tiny_set() -> None:
    results = [
        _image(
            "a",
            [(0, 0, 10, 10, 0), (20, 20, 30, 30, 0)],
            [(0, 0, 10, 10, 0.9, 0), (50, 50, 60, 60, 0.8, 0), (20, 20, 30, 31, 0.7, 0)],
        ),
        _image("b", [(0, 0, 10, 10, 1)], [(40, 40, 50, 50, 0.6, 0)]),  # class 0 fires where there is none
        _image("c", [], []),
    ]
    cat, bin_ = class_metrics(results, ["cat", "bin"], review_threshold=0.75)
    # hits in score order: TP, FP, TP, FP -> precision envelope 1 up to recall 0.5, then 2/3
    assert cat.ap50 == pytest.approx((51 * 1.0 + 50 * (2 / 3)) / 101)
    # the third box has IoU 100/110 = 0.909: a hit at thresholds 0.50..0.90, a miss at 0.95
    assert cat.ap50_95 == pytest.approx((9 * cat.ap50 + (51 * 1.0 + 50 * 0.0) / 101) / 10)
    assert cat.instances == 2 and cat.images == 1
    assert cat.precision == pytest.approx(0.5) and cat.recall == pytest.approx(0.5)  # 2 above 0.75: one hit
    assert cat.negative_images == 2 and cat.false_positive_image_rate == 0.0  # b's 0.6 is below the threshold
    assert bin_.ap50 == 0.0 and bin_.recall == 0.0 and bin_.precision is None
    assert bin_.false_positive_image_rate == 0.0 and bin_.negative_images == 2
    low = class_metrics(results, ["cat", "bin"], review_threshold=0.5)[0]
    assert low.false_positive_image_rate == pytest.approx(1 / 2)  # b fires cat now, c does not
    matrix = confusion_matrix(results, 2, review_threshold=0.5)
    # rows true cat, bin, background; columns predicted cat, bin, missed
    assert matrix.tolist() == [[2, 0, 0], [0, 0, 1], [2, 0, 0]]


def test_a_class_without_ground_truth_has_no_ap() -> None:
    results = [_image("a", [(0, 0, 10, 10, 0)], [(0, 0, 10, 10, 0.9, 0), (5, 5, 9, 9, 0.9, 1)])]
    cat, bin_ = class_metrics(results, ["cat", "bin"], 0.5)
    assert cat.ap50 == pytest.approx(1.0) and bin_.ap50 is None and bin_.ap50_95 is None
    assert bin_.false_positive_image_rate == 1.0


def _random_set(rng: np.random.Generator, images: int, classes: int) -> list[ImageResult]:
    results = []
    for index in range(images):
        n = int(rng.integers(0, 6))
        xy = rng.uniform(0, 400, (n, 2))
        wh = rng.uniform(8, 120, (n, 2))
        gt = np.hstack([xy, xy + wh, rng.integers(0, classes, (n, 1))])
        preds = []
        for box in gt:
            if rng.random() < 0.8:  # found, with a jittered box, sometimes with the wrong class
                jitter = (
                    rng.normal(0, 0.12, 4) * np.r_[box[2] - box[0], box[3] - box[1], box[2] - box[0], box[3] - box[1]]
                )
                cls = box[4] if rng.random() < 0.9 else rng.integers(0, classes)
                preds.append((*(box[:4] + jitter), rng.uniform(0.2, 1.0), cls))
        for _ in range(int(rng.integers(0, 5))):  # false positives
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(8, 100, 2)
            preds.append((x, y, x + w, y + h, rng.uniform(0.0, 0.7), rng.integers(0, classes)))
        results.append(_image(f"{index}", [tuple(r) for r in gt], preds))
    return results


def test_ap_agrees_with_pycocotools(tmp_path: Path) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = ["a", "b", "c"]
    results = _random_set(np.random.default_rng(7), 120, len(names))
    images, annotations, detections = [], [], []
    for image_id, r in enumerate(results, start=1):
        images.append({"id": image_id, "width": 640, "height": 640, "file_name": r.name})
        for box, cls in zip(r.gt_xyxy, r.gt_classes, strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": image_id, "category_id": int(cls) + 1,
                 "bbox": [box[0], box[1], w, h], "area": w * h, "iscrowd": 0}
            )  # fmt: skip
        for box, score, cls in zip(r.pred_xyxy, r.pred_scores, r.pred_classes, strict=True):
            detections.append(
                {"image_id": image_id, "category_id": int(cls) + 1, "score": float(score),
                 "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]}
            )  # fmt: skip
    gt_file = tmp_path / "gt.json"
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    gt_file.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    coco = COCO(str(gt_file))
    evaluator = COCOeval(coco, coco.loadRes(detections), "bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    precision = evaluator.eval["precision"]  # [iou, recall, class, area, max dets]
    ours = class_metrics(results, names, 0.5)
    for k, metrics in enumerate(ours):
        coco_ap50 = precision[0, :, k, 0, -1].mean()
        coco_ap = precision[:, :, k, 0, -1].mean()
        assert metrics.ap50 == pytest.approx(coco_ap50, abs=0.01), metrics.name
        assert metrics.ap50_95 == pytest.approx(coco_ap, abs=0.01), metrics.name
        assert 0.2 < coco_ap50 < 0.95  # a set where the check means something


def test_report_files(tmp_path: Path) -> None:
    results = _random_set(np.random.default_rng(1), 30, 2)
    results += [_image("x", [(0, 0, 50, 50, 1)], [(0, 0, 50, 50, 0.9, 1)], source="other")]
    evaluation = evaluate_results(results, ["a", "b"], 0.4, model="m", dataset="d")
    write_report(evaluation, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert [c["name"] for c in saved["classes"]] == ["a", "b"] and set(saved["by_source"]) == {"s", "other"}
    assert sum(map(sum, saved["confusion_matrix"]["counts"])) > 0
    for png in ("confusion_matrix.png", "pr_a.png", "pr_b.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| all | a |" in (tmp_path / "report.md").read_text()
