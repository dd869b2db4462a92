"""Match two sets of detections of the same image, for parity and export accuracy checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.detections import Detections
from vision.nms import box_iou


@dataclass(frozen=True)
class Match:
    """Pairs of indices (reference, candidate) matched one-to-one, with their IoU and confidence difference."""

    reference_index: np.ndarray
    candidate_index: np.ndarray
    iou: np.ndarray
    confidence_delta: np.ndarray
    reference_count: int
    candidate_count: int

    @property
    def recall(self) -> float:
        """Share of reference boxes that found a partner (1.0 when the reference is empty)."""
        return 1.0 if self.reference_count == 0 else len(self.reference_index) / self.reference_count


def match_detections(reference: Detections, candidate: Detections, min_iou: float = 0.5) -> Match:
    """Greedy one-to-one matching of same-class boxes, highest IoU first; pairs below `min_iou` stay unmatched."""
    iou = box_iou(reference.xyxy, candidate.xyxy)
    iou[reference.class_id[:, None] != candidate.class_id[None, :]] = 0.0
    pairs: list[tuple[int, int]] = []
    if iou.size:
        order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
        used_ref, used_cand = set(), set()
        for r, c in order:
            if iou[r, c] < min_iou:
                break
            if r in used_ref or c in used_cand:
                continue
            used_ref.add(int(r))
            used_cand.add(int(c))
            pairs.append((int(r), int(c)))
    ref_idx = np.array([p[0] for p in pairs], dtype=np.int64)
    cand_idx = np.array([p[1] for p in pairs], dtype=np.int64)
    return Match(
        ref_idx,
        cand_idx,
        iou[ref_idx, cand_idx] if pairs else np.zeros(0, np.float32),
        np.abs(reference.confidence[ref_idx] - candidate.confidence[cand_idx]) if pairs else np.zeros(0, np.float32),
        len(reference),
        len(candidate),
    )
