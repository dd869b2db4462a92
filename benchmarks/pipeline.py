"""End-to-end video pipeline speed: ours (decode → detect → track → sightings) vs ultralytics' `model.track`.

    python -m benchmarks.pipeline [--model NAME] [--fps 5] [--seconds-per-photo 4] [--size 960x540] [--tiles]
                                  [--tiles-per-frame N ...] [--json out.json]

Makes a simulated drive from the bundled sample photos (25 fps, `--size`, default 960 x 540, MPEG-4), then, in one
run, on the same video and the same weights, analysing `--fps` frames per second of video:
- ours with the fp32 and the int8 ONNX model (OnnxDetector, ByteTracker with motion compensation, sightings with
  evidence written to disk), whole frames; with `--tiles` also both with the frames' tiles (vision/tiling.py, the
  model card's settings or the defaults), as a patrol car's 1920 x 1080 camera needs (`--size 1920x1080`), and
  int8 with only N tiles per frame in rotation (`--tiles-per-frame N`, what `streetwatch edge` can do);
- ultralytics' `YOLO(model.pt).track(source=video, vid_stride=…)` with its ByteTrack and BoT-SORT configs.
Every frame of the video is decoded in each case. Prints a Markdown table: frames analysed, wall seconds, frames
analysed per second, how many seconds of video one second of computing covers (≥ 1 is real time) and the
number of objects (tracks with at least 3 frames) each found, plus the machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.detector import machine
from datasets.drive import DriveSettings, simulate_drive
from models.registry import DEFAULT_MODEL, ModelFormat, load_detector, model_file, tiling_config
from vision.frames import VideoFileSource
from vision.inspection import Inspection, InspectionConfig
from vision.tiling import TilingConfig, with_tiling
from vision.ultralytics_env import import_ultralytics

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "images"


def ours(
    video: Path, start: float, model: str, int8: bool, fps: float, work: Path, tiling: TilingConfig | None
) -> dict[str, Any]:
    config = InspectionConfig(fps=fps)  # what `streetwatch inspect` and `edge` run, at their defaults
    detector = with_tiling(load_detector(model, "onnx", int8, config.detection, tiles=False), tiling)
    inspection = Inspection(detector, config, Path(tempfile.mkdtemp(dir=work)), model=model, source=str(video))
    sightings: list[Any] = []
    started = time.perf_counter()
    stats = inspection.run(VideoFileSource(video, start), sightings.append)
    return {"frames": stats.frames, "seconds": time.perf_counter() - started, "objects": len(sightings)}


def theirs(video: Path, model: str, tracker: str, stride: int) -> dict[str, Any]:
    ultralytics = import_ultralytics()
    yolo = ultralytics.YOLO(str(model_file(model, ModelFormat.PYTORCH)))
    hits: Counter[int] = Counter()
    frames = 0
    started = time.perf_counter()
    for result in yolo.track(
        source=str(video), tracker=tracker, vid_stride=stride, stream=True, verbose=False, conf=0.1
    ):
        frames += 1
        if result.boxes is not None and result.boxes.id is not None:
            hits.update(int(i) for i in result.boxes.id.tolist())
    return {"frames": frames, "seconds": time.perf_counter() - started, "objects": sum(n >= 3 for n in hits.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--fps", type=float, default=5.0, help="frames analysed per second of video")
    parser.add_argument("--seconds-per-photo", type=float, default=4.0)
    parser.add_argument("--size", default="960x540", help="video width x height, e.g. 1920x1080")
    parser.add_argument("--tiles", action="store_true", help="also run ours with tiled inference")
    parser.add_argument(
        "--tiles-per-frame", type=int, nargs="*", default=[], help="with --tiles: also int8 with N tiles per frame"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = sorted(SAMPLES.glob("*.jpg"))
        drive = simulate_drive(
            photos,
            work / "drive.mp4",
            work / "drive.gpx",
            DriveSettings(fps=25, seconds_per_photo=args.seconds_per_photo, size=(width, height)),
        )
        video_seconds = drive.frames / drive.fps
        stride = max(1, round(drive.fps / args.fps))
        runs = {
            "ours, ONNX fp32": ours(drive.video, drive.start_time, args.model, False, args.fps, work, None),
            "ours, ONNX int8": ours(drive.video, drive.start_time, args.model, True, args.fps, work, None),
            "ultralytics track, ByteTrack": theirs(drive.video, args.model, "bytetrack.yaml", stride),
            "ultralytics track, BoT-SORT": theirs(drive.video, args.model, "botsort.yaml", stride),
        }
        if args.tiles:
            tiling = tiling_config(args.model, True)
            for int8 in (False, True):
                name = f"ours, ONNX {'int8' if int8 else 'fp32'}, tiles + whole frame"
                runs[name] = ours(drive.video, drive.start_time, args.model, int8, args.fps, work, tiling)
            for per_frame in args.tiles_per_frame:
                rotating = tiling.model_copy(update={"tiles_per_frame": per_frame}) if tiling else None
                tiles = f"{per_frame} tile{'s' if per_frame > 1 else ''}"
                name = f"ours, ONNX int8, {tiles} per frame in rotation + whole frame"
                runs[name] = ours(drive.video, drive.start_time, args.model, True, args.fps, work, rotating)
    print(f"{machine()}\nmodel {args.model}; video: {len(photos)} photos, {video_seconds:.0f} s at 25 fps, "
          f"{width}x{height}; analysed at {args.fps:g} fps\n")  # fmt: skip
    print("| pipeline | frames analysed | wall s | frames analysed/s | video s per wall s | objects (≥ 3 frames) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, run in runs.items():
        print(
            f"| {name} | {run['frames']} | {run['seconds']:.1f} | {run['frames'] / run['seconds']:.1f} | "
            f"{video_seconds / run['seconds']:.2f} | {run['objects']} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"video_seconds": video_seconds, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
