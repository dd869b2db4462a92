"""Multi-object tracking for a moving camera: ByteTrack association with global motion compensation.

Why this tracker (see docs/pipeline.md for the measurement): a roof camera moves, so everything in the frame
shifts between two sampled frames (at 5 fps and 30 km/h a kerbside object moves tens of pixels). ByteTrack
(Zhang et al., 2022) matches confident detections first and then recovers the low-confidence ones (a bin half
hidden by a passing scooter) instead of dropping them; BoT-SORT's idea of global motion compensation (GMC) —
estimate the camera's frame-to-frame motion from sparse optical flow and move every track's prediction with it —
keeps IoU association working while the camera moves. This implementation needs only numpy, OpenCV and scipy, so
it runs on the edge box (no torch), and it is the same code on the server.

A scene cut (consecutive frames whose grey-level histograms hardly correlate: an edited video, a camera that
switched, a stream that came back elsewhere) ends every track, so that no sighting spans two scenes.

Boxes are pixels xyxy. Tracking is class-agnostic (a detection flickering between two classes stays one track);
a track's class is the confidence-weighted vote of its detections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from vision.detections import Detections
from vision.nms import box_iou

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrackerSettings:
    """Thresholds of the two association stages and how long a lost track is kept."""

    high_threshold: float = 0.25  # detections at or above: first association, may start tracks
    low_threshold: float = 0.1  # between low and high: only extend existing tracks (second association)
    new_track_threshold: float = 0.3
    match_iou: float = 0.2  # minimum IoU (after motion compensation) to match in the first stage
    low_match_iou: float = 0.3
    max_lost_seconds: float = 1.5  # a track unseen this long ends
    motion_compensation: bool = True
    # one physical object, one track: of boxes overlapping this much the weaker is dropped whatever its class (a
    # bicycle also reported as a motorcycle), and no track is born overlapping a tracked box this much
    duplicate_iou: float = 0.8
    birth_max_iou: float = 0.5
    # grey-level histograms of consecutive frames less correlated than this: a scene cut, every track ends
    scene_cut_correlation: float = 0.8  # within a drive > 0.99 between sampled frames; cuts measured 0.54


class KalmanBox:
    """Constant-velocity Kalman filter on (cx, cy, aspect, height) — ByteTrack's / DeepSORT's box model."""

    _std_position = 1.0 / 20
    _std_velocity = 1.0 / 160

    def __init__(self, xyxy: FloatArray) -> None:
        measurement = _to_xyah(xyxy)
        self.mean = np.r_[measurement, np.zeros(4)]
        h = measurement[3]
        p, v = 2 * self._std_position * h, 10 * self._std_velocity * h
        std = np.array([p, p, 1e-2, p, v, v, 1e-5, v])
        self.covariance = np.diag(std**2)
        self._motion = np.eye(8)
        self._motion[:4, 4:] = np.eye(4)
        self._update = np.eye(4, 8)

    def predict(self) -> None:
        h = self.mean[3]
        p, v = self._std_position * h, self._std_velocity * h
        std = np.array([p, p, 1e-2, p, v, v, 1e-5, v])
        self.mean = self._motion @ self.mean
        self.covariance = self._motion @ self.covariance @ self._motion.T + np.diag(std**2)

    def warp(self, affine: FloatArray) -> None:
        """Move the state with the camera: `affine` (2 x 3) maps the previous frame's pixels to this frame's."""
        linear, shift = affine[:, :2], affine[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(linear))))
        self.mean[:2] = linear @ self.mean[:2] + shift
        self.mean[4:6] = linear @ self.mean[4:6]
        self.mean[3] *= scale
        self.mean[7] *= scale

    def update(self, xyxy: FloatArray) -> None:
        h = self.mean[3]
        noise = np.diag(np.array([self._std_position * h, self._std_position * h, 1e-1, self._std_position * h]) ** 2)
        projected = self._update @ self.mean
        projected_cov = self._update @ self.covariance @ self._update.T + noise
        gain = self.covariance @ self._update.T @ np.linalg.inv(projected_cov)
        self.mean = self.mean + gain @ (_to_xyah(xyxy) - projected)
        self.covariance = self.covariance - gain @ projected_cov @ gain.T

    @property
    def xyxy(self) -> FloatArray:
        cx, cy, a, h = self.mean[:4]
        w = a * h
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _to_xyah(xyxy: FloatArray) -> FloatArray:
    w, h = xyxy[2] - xyxy[0], max(xyxy[3] - xyxy[1], 1e-6)
    return np.array([(xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2, w / h, h])


@dataclass
class Track:
    """One tracked object: its filter, when it was last seen, and its class votes."""

    track_id: int
    kalman: KalmanBox
    first_time: float
    last_time: float
    hits: int = 1
    confirmed: bool = False
    class_votes: dict[int, float] = field(default_factory=dict)

    @property
    def class_id(self) -> int:
        return max(self.class_votes, key=self.class_votes.__getitem__)


@dataclass(frozen=True)
class _Assigned:
    """A detection of this frame assigned to a track (index into the frame's Detections)."""

    track_id: int
    detection: int


class ByteTracker:
    """Feed it each sampled frame's detections in time order; it answers with the ones that belong to a track, each
    with its `tracker_id`."""

    def __init__(self, settings: TrackerSettings = TrackerSettings()) -> None:
        self.settings = settings
        self.tracks: list[Track] = []  # active and lost
        self.ended: list[Track] = []  # ended since the last call (drained by `pop_ended`)
        self._next_id = 1
        self._previous_grey: npt.NDArray[np.uint8] | None = None
        self._last_time: float | None = None  # capture time of the previous update
        self._scene_cut = False

    def update(self, detections: Detections, time: float, image: npt.NDArray[np.uint8] | None = None) -> Detections:
        """This frame's detections that belong to a track (matched or starting one), with their `tracker_id`."""
        s = self.settings
        affine = self._camera_motion(image) if s.motion_compensation and image is not None else None
        if self._scene_cut:  # a new scene (a cut, a reconnected stream): nothing seen before is in view
            self.ended += self.tracks
            self.tracks = []
        for track in self.tracks:
            if affine is not None:
                track.kalman.warp(affine)
            track.kalman.predict()
        boxes = detections.xyxy.astype(np.float64)
        scores = detections.confidence.astype(np.float64)
        distinct = distinct_boxes(boxes, scores, s.duplicate_iou)
        high = np.nonzero(distinct & (scores >= s.high_threshold))[0]
        low = np.nonzero(distinct & (scores >= s.low_threshold) & (scores < s.high_threshold))[0]
        updates: list[_Assigned] = []

        confirmed = [t for t in self.tracks if t.confirmed]
        unconfirmed = [t for t in self.tracks if not t.confirmed]
        pairs, free_tracks, free_high = _associate(confirmed, boxes, high, s.match_iou, scores)
        updates += self._apply(pairs, detections, time)
        recent = [t for t in free_tracks if t.last_time >= time - 1e-9 - self._frame_gap(time)]
        pairs, _, _ = _associate(recent, boxes, low, s.low_match_iou, None)
        updates += self._apply(pairs, detections, time)
        pairs, _, free_high = _associate(
            unconfirmed, boxes, np.array(free_high, np.intp), max(s.match_iou, 0.3), scores
        )
        updates += self._apply(pairs, detections, time)
        tracked = np.array([boxes[u.detection] for u in updates]).reshape(-1, 4)
        for index in free_high:
            inside_tracked = (
                len(tracked) and box_iou(boxes[index : index + 1], tracked, np.float64).max() > s.birth_max_iou
            )
            if scores[index] >= s.new_track_threshold and not inside_tracked:
                track = Track(self._next_id, KalmanBox(boxes[index]), time, time)
                track.class_votes[int(detections.class_id[index])] = float(scores[index])
                self._next_id += 1
                self.tracks.append(track)
                updates.append(_Assigned(track.track_id, int(index)))
        keep = []
        for track in self.tracks:
            stale = time - track.last_time > s.max_lost_seconds
            never_confirmed = not track.confirmed and track.last_time < time
            if stale or never_confirmed:
                self.ended.append(track)
            else:
                keep.append(track)
        self.tracks = keep
        self._last_time = time
        kept = detections[np.array([u.detection for u in updates], np.int64)]
        return Detections(kept.xyxy, kept.confidence, kept.class_id, np.array([u.track_id for u in updates], np.int64))

    def pop_ended(self) -> list[Track]:
        ended, self.ended = self.ended, []
        return ended

    def finish(self) -> list[Track]:
        """End every track (end of the video or stream)."""
        self.ended += self.tracks
        self.tracks = []
        return self.pop_ended()

    def _frame_gap(self, time: float) -> float:
        return 0.0 if self._last_time is None else max(0.0, time - self._last_time)

    def _apply(self, pairs: list[tuple[Track, int]], detections: Detections, time: float) -> list[_Assigned]:
        updates = []
        for track, index in pairs:
            track.kalman.update(detections.xyxy[index].astype(np.float64))
            track.last_time = time
            track.hits += 1
            track.confirmed = True
            cls = int(detections.class_id[index])
            track.class_votes[cls] = track.class_votes.get(cls, 0.0) + float(detections.confidence[index])
            updates.append(_Assigned(track.track_id, int(index)))
        return updates

    def _camera_motion(self, image: npt.NDArray[np.uint8]) -> FloatArray | None:
        """Affine from the previous frame to this one, from sparse optical flow on a downscaled grey image."""
        scale = min(1.0, 640.0 / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        grey = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), np.uint8)
        previous, self._previous_grey = self._previous_grey, grey
        self._scene_cut = False
        if previous is None or previous.shape != grey.shape:
            return None
        histograms = [cv2.calcHist([g], [0], None, [32], [0, 256]) for g in (previous, grey)]
        if cv2.compareHist(histograms[0], histograms[1], cv2.HISTCMP_CORREL) < self.settings.scene_cut_correlation:
            self._scene_cut = True
            return None
        corners = cv2.goodFeaturesToTrack(previous, maxCorners=400, qualityLevel=0.01, minDistance=8, blockSize=3)
        if corners is None or len(corners) < 10:
            return None
        # OpenCV 4.x stubs reject None for nextPts, 5.x stubs accept it: pyproject.toml allows both
        moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, grey, corners, None)  # type: ignore[call-overload,unused-ignore]
        good = status.reshape(-1) == 1
        if good.sum() < 10:
            return None
        affine, inliers = cv2.estimateAffinePartial2D(corners[good], moved[good], method=cv2.RANSAC)
        if affine is None or inliers is None or inliers.sum() < 8:
            return None
        full: FloatArray = np.asarray(affine, np.float64)
        full[:, 2] /= scale  # back to full-resolution pixels
        return full


def distinct_boxes(boxes: FloatArray, scores: FloatArray, iou: float) -> npt.NDArray[np.bool_]:
    """Class-agnostic suppression: False for a box overlapping a higher-scored one by `iou` or more."""
    keep = np.ones(len(boxes), bool)
    if len(boxes) < 2:
        return keep
    overlaps = box_iou(boxes, boxes, np.float64)
    for i in np.argsort(-scores, kind="stable"):
        if keep[i]:
            later = overlaps[i] >= iou
            later[i] = False
            keep &= ~(later & (scores <= scores[i]))
            keep[i] = True
    return keep


def _associate(
    tracks: list[Track], boxes: FloatArray, candidates: npt.NDArray[np.intp], min_iou: float, scores: FloatArray | None
) -> tuple[list[tuple[Track, int]], list[Track], list[int]]:
    """Optimal assignment by IoU (weighted by detection score when given); pairs, unmatched tracks and detections."""
    if not tracks or not len(candidates):
        return [], list(tracks), [int(i) for i in candidates]
    predicted = np.array([t.kalman.xyxy for t in tracks])
    iou = box_iou(predicted, boxes[candidates], np.float64)
    similarity = iou * scores[candidates][None, :] if scores is not None else iou
    rows, cols = linear_sum_assignment(-similarity)
    pairs, used_tracks, used_dets = [], set(), set()
    for r, c in zip(rows, cols, strict=True):
        if iou[r, c] >= min_iou:
            pairs.append((tracks[r], int(candidates[c])))
            used_tracks.add(r)
            used_dets.add(c)
    free_tracks = [t for i, t in enumerate(tracks) if i not in used_tracks]
    free_dets = [int(candidates[j]) for j in range(len(candidates)) if j not in used_dets]
    return pairs, free_tracks, free_dets
