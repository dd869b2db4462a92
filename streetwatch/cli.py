"""`streetwatch` — the command line. Each subcommand wires library code; no logic of its own lives here."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from datasets.sources import REPO_ROOT, list_images
from models.registry import (
    COCO_MODEL,
    DEFAULT_MODEL,
    ModelFormat,
    load_detector,
    model_file,
    tiling_config,
    versioned,
)
from streetwatch import retraining
from vision.detector import Detector
from vision.errors import StreetWatchError
from vision.images import IMAGE_SUFFIXES, load_image
from vision.report import DetectionReport
from vision.taxonomy import load_taxonomy
from vision.tiling import TilingConfig, with_tiling
from vision.yolo_head import DetectionSettings

SAMPLE_IMAGES = REPO_ROOT / "samples" / "images"

app = typer.Typer(
    name="streetwatch",
    help="StreetWatch 巡检 — AI street inspection for city management.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
logger = logging.getLogger("streetwatch")
dataset_app = typer.Typer(help="Build, inspect and preview dataset versions.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
DATASETS_OUT = REPO_ROOT / "data" / "datasets"


class Backend(StrEnum):
    """Which runtime runs the detector."""

    ONNX = "onnx"
    ULTRALYTICS = "ultralytics"


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    """StreetWatch 巡检 — AI street inspection for city management."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _size(text: str | None) -> tuple[int, int] | None:
    """WIDTHxHEIGHT as a (width, height) pair."""
    if text is None:
        return None
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 1920x1080, got {text!r}")
    return int(width), int(height)


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=2)


def _image_files(sources: list[Path]) -> Iterator[Path]:
    for source in sources:
        if source.is_dir():
            yield from sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            yield source


def _model_reference(model: str) -> str:
    """What a sighting names as its model: `name@version` of a zoo or registry model, or the .onnx file given."""
    return model if Path(model).suffix == ".onnx" else versioned(model)


def _build_detector(
    model: str, backend: Backend, int8: bool, settings: DetectionSettings, threads: int | None, tiles: bool | None
) -> Detector:
    if backend is Backend.ULTRALYTICS and int8:
        raise typer.BadParameter("--int8 applies to the onnx backend only")
    return load_detector(model, backend.value, int8, settings, threads, tiles)


TILES_HELP = "Also detect on overlapping tiles of wide frames, for small objects (default: the model card's)."
Tiles = Annotated[bool | None, typer.Option("--tiles/--no-tiles", help=TILES_HELP)]


@app.command()
def detect(
    sources: Annotated[
        list[Path] | None, typer.Argument(help="Image files or folders (default: the bundled sample photos).")
    ] = None,
    model: Annotated[str, typer.Option(help="Zoo model name, or a path to a .onnx / .pt file.")] = DEFAULT_MODEL,
    backend: Annotated[Backend, typer.Option(help="onnx (onnxruntime) or ultralytics (torch).")] = Backend.ONNX,
    int8: Annotated[bool, typer.Option("--int8", help="Use the int8 ONNX model.")] = False,
    conf: Annotated[float, typer.Option(help="Confidence threshold.")] = 0.25,
    iou: Annotated[float, typer.Option(help="NMS IoU threshold.")] = 0.7,
    threads: Annotated[int | None, typer.Option(help="onnxruntime threads (default: all cores).")] = None,
    tiles: Tiles = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/detect"),
) -> None:
    """Detect objects in images; write annotated copies, detections.json and detections.csv."""
    try:
        tiling = tiling_config(model, tiles)
        detector = _build_detector(model, backend, int8, DetectionSettings(conf, iou), threads, tiles)
    except (StreetWatchError, ValueError) as error:
        raise _fail(error) from error
    if tiling is not None:
        height, width = tiling.tile_size or detector.input_size
        whole = " plus the whole image" if tiling.whole_frame else ""
        typer.echo(f"wide images: {width}x{height} tiles overlapping by {tiling.overlap:.0%}{whole}")
    report = DetectionReport(out, detector.class_names, model=str(model), taxonomy=load_taxonomy())
    files = list(_image_files(sources or [SAMPLE_IMAGES]))
    for path in files:
        try:
            image = load_image(path)
        except StreetWatchError as error:
            logger.warning("skipped %s: %s", path, error)
            report.skip(path, str(error))
            continue
        detections = detector.detect(image)
        report.add(path, image, detections)
        counts: dict[str, int] = {}
        for class_id in detections.class_id:
            name = detector.class_names[class_id]
            counts[name] = counts.get(name, 0) + 1
        summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "nothing"
        typer.echo(f"{path.name}: {summary}")
    json_path, csv_path = report.write()
    total = sum(len(entry["detections"]) for entry in report.images)
    typer.echo(
        f"{len(report.images)} images, {total} detections, {len(report.skipped)} skipped → "
        f"{out / 'annotated'}, {json_path}, {csv_path}"
    )
    if not report.images:
        raise typer.Exit(code=1)


@app.command()
def export(
    weights: Annotated[Path, typer.Argument(help="YOLO .pt checkpoint to export.")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default: the checkpoint's folder).")] = None,
    imgsz: Annotated[int, typer.Option(help="Square input size.")] = 640,
    calibration: Annotated[
        Path | None, typer.Option(help="Folder of calibration photos (default: train photos of the datasets).")
    ] = None,
    calibration_count: Annotated[int, typer.Option(help="How many calibration photos to use.")] = 64,
    check_count: Annotated[int, typer.Option(help="How many validation photos the accuracy check uses.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed for picking calibration and check photos.")] = 0,
) -> None:
    """Export WEIGHTS to model.onnx (fp32) and model.int8.onnx, then check both against the PyTorch model."""
    from models.export import check_accuracy, export_onnx
    from models.quantize import quantize_int8
    from vision.onnx_backend import OnnxDetector
    from vision.ultralytics_backend import UltralyticsDetector

    target = out or weights.parent
    rng = random.Random(seed)
    try:
        reference = UltralyticsDetector(weights, imgsz=imgsz)
        calib_pool = list(_image_files([calibration])) if calibration else list_images("train")
        check_pool = list_images("val") if calibration is None else calib_pool
        calib = rng.sample(calib_pool, min(calibration_count, len(calib_pool)))
        check = rng.sample(check_pool, min(check_count, len(check_pool)))
        fp32 = export_onnx(weights, target / "model.onnx", imgsz)
        int8_path = quantize_int8(fp32, target / "model.int8.onnx", calib)
        checks = [
            check_accuracy(label, reference, OnnxDetector(path), check)
            for label, path in (("onnx fp32", fp32), ("onnx int8", int8_path))
        ]
    except StreetWatchError as error:
        raise _fail(error) from error
    typer.echo(f"wrote {fp32} and {int8_path}; accuracy against {weights.name} on {len(check)} photos:")
    typer.echo(f"{'export':<10} {'boxes':>6} {'kept':>7} {'mean IoU':>9} {'min IoU':>8} {'max Δconf':>10}")
    for c in checks:
        typer.echo(
            f"{c.label:<10} {c.reference_boxes:>6} {c.kept:>7.1%} {c.mean_iou:>9.4f} {c.min_iou:>8.4f} "
            f"{c.max_confidence_delta:>10.4f}"
        )


@dataset_app.command("build")
def dataset_build(
    config: Annotated[Path, typer.Argument(help="Build config YAML, e.g. datasets/config/default.yaml.")],
    out: Annotated[Path, typer.Option(help="Folder that holds dataset versions.")] = DATASETS_OUT,
) -> None:
    """Import the real sources of CONFIG and run its generators into a new dataset version with a manifest."""
    from datasets.build import build_dataset, load_build_config
    from datasets.manifest import format_stats
    from datasets.synthetic.stalls import RenderUnavailable
    from vision.onnx_backend import OnnxDetector

    try:
        # The COCO model tells the generators where people and cars stand in front of the walls.
        build_config = load_build_config(config)[0]
        needs_occluders = bool(build_config.synthetic or build_config.compose)
        occluders = OnnxDetector(model_file(COCO_MODEL, ModelFormat.ONNX)) if needs_occluders else None
        target, manifest = build_dataset(config, out, occluders=occluders)
    except (StreetWatchError, ValueError, FileNotFoundError, FileExistsError, RenderUnavailable) as error:
        raise _fail(error) from error
    typer.echo(format_stats(manifest))
    typer.echo(f"wrote {target} (manifest.json, data.yaml, import_report.json, synthetic.jsonl)")


@dataset_app.command("stats")
def dataset_stats(dataset: Annotated[Path, typer.Argument(help="A dataset version folder.")]) -> None:
    """Counts per class, split and source of a dataset version."""
    from datasets.manifest import format_stats, read_manifest

    try:
        typer.echo(format_stats(read_manifest(dataset)))
    except (FileNotFoundError, ValueError) as error:
        raise _fail(error) from error


@dataset_app.command("preview")
def dataset_preview(
    dataset: Annotated[Path, typer.Argument(help="A dataset version folder.")],
    out: Annotated[Path, typer.Option(help="PNG to write.")] = Path("runs/preview.png"),
    count: Annotated[int, typer.Option(help="How many examples.")] = 16,
    class_name: Annotated[str | None, typer.Option("--class", help="Only images holding this class.")] = None,
    seed: Annotated[int, typer.Option(help="Which random examples.")] = 0,
    zoom: Annotated[bool, typer.Option("--zoom", help="Crop each tile to the boxes of --class.")] = False,
) -> None:
    """Write a contact sheet of random examples with their boxes drawn."""
    from datasets.preview import contact_sheet, write_contact_sheet

    try:
        path = write_contact_sheet(contact_sheet(dataset, count, seed, class_name, zoom), out)
    except (FileNotFoundError, ValueError) as error:
        raise _fail(error) from error
    typer.echo(f"wrote {path}")


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="Training config YAML, e.g. models/config/starter.yaml.")],
    runs: Annotated[Path, typer.Option(help="Folder that holds training runs.")] = REPO_ROOT / "runs" / "train",
) -> None:
    """Train a detector as CONFIG says (offline); writes a run folder with weights and per-epoch metrics."""
    from pydantic import ValidationError

    from models.train import train as run_training

    try:
        run = run_training(config, runs)
    except (ValueError, ValidationError, FileNotFoundError, FileExistsError, StreetWatchError) as error:
        raise _fail(error) from error
    typer.echo(f"wrote {run} (weights/best.pt, metrics.jsonl, run.json)")


@app.command()
def evaluate(
    weights: Annotated[str, typer.Argument(help="Zoo model name, or a .onnx / .pt file.")],
    data: Annotated[Path, typer.Argument(help="A dataset version folder (with manifest.json).")],
    split: Annotated[str, typer.Option(help="Which split.")] = "val",
    review_threshold: Annotated[float, typer.Option(help="Confidence at which detections reach a reviewer.")] = 0.25,
    backend: Annotated[Backend, typer.Option(help="onnx (onnxruntime) or ultralytics (torch).")] = Backend.ONNX,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("runs/evaluate"),
    errors: Annotated[
        bool, typer.Option("--errors", help="Also list every false alarm and miss, with contact sheets.")
    ] = False,
    tiles: Tiles = None,
    frame_size: Annotated[
        str | None,
        typer.Option(help="Resize every image to WIDTHxHEIGHT first, e.g. 1920x1080 for downscaled patrol frames."),
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Only the images of this manifest source (repeatable), e.g. patrol-riyadh.")
    ] = None,
) -> None:
    """Per-class AP50, AP50-95, P/R at the review threshold, confusion matrix, PR curves, FP-image rates."""
    from models.errors import find_errors, summary_table, write_errors
    from models.evaluate import evaluate_results, predict_dataset, write_report

    settings = DetectionSettings(confidence_threshold=0.001, iou_threshold=0.7)
    try:
        detector = _build_detector(weights, backend, False, settings, None, tiles)
        names = load_taxonomy().names
        if tuple(detector.class_names) != tuple(names):
            raise ValueError(f"{weights} predicts {list(detector.class_names)}, not the taxonomy's {list(names)}")
        with typer.progressbar(length=1, label="evaluating") as bar:

            def progress(items: list[object]) -> Iterator[object]:
                bar.length = len(items)
                for item in items:
                    yield item
                    bar.update(1)

            results = predict_dataset(detector, data, split, names, progress, source, _size(frame_size))
        evaluation = evaluate_results(
            results, names, review_threshold, model=str(weights), dataset=str(data), split=split
        )
        write_report(evaluation, out)
        if errors:
            found = find_errors(results, names, review_threshold)
            sheets = write_errors(found, results, names, review_threshold, out)
            table = summary_table(found)
            with (out / "report.md").open("a", encoding="utf-8") as report:
                report.write(f"\n## Errors at the review threshold (errors.csv, errors/*.jpg)\n\n{table}\n")
    except (StreetWatchError, ValueError, FileNotFoundError, OSError) as error:
        raise _fail(error) from error
    typer.echo(evaluation.table())
    if errors:
        typer.echo(table)
        typer.echo(f"{len(found)} errors in {out / 'errors.csv'}, {len(sheets)} contact sheets in {out / 'errors'}")
    typer.echo(f"wrote {out} (metrics.json, report.md, confusion_matrix.png, pr_*.png)")


@app.command()
def publish(
    run: Annotated[Path, typer.Argument(help="A finished training run folder (runs/train/<name>).")],
    name: Annotated[str, typer.Option(help="Zoo model name.")],
    version: Annotated[str, typer.Option(help="Model version, e.g. 1.0.0.")],
    intended_use: Annotated[str, typer.Option(help="What the model is for (goes into the card).")] = "",
    limit: Annotated[list[str] | None, typer.Option(help="A known limit for the card (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the zoo model of that name.")] = False,
    data: Annotated[
        Path | None, typer.Option(help="Local copy of the run's dataset version, for runs trained elsewhere.")
    ] = None,
    tiles: Annotated[
        bool, typer.Option("--tiles", help="The card asks every user to tile wide frames (the default tiling).")
    ] = False,
    last: Annotated[
        bool, typer.Option("--last", help="Publish the run's final weights (last.pt), not its best on validation.")
    ] = False,
) -> None:
    """Put a run's best weights into the zoo: model.pt, fp32 and int8 ONNX, evaluation, speed, card."""
    from models.publish import PublishOptions
    from models.publish import publish as publish_run

    try:
        options = PublishOptions(
            intended_use=intended_use, limits=tuple(limit or ()), force=force, data=data,
            tiling=TilingConfig() if tiles else None, weights_file="last.pt" if last else "best.pt",
        )  # fmt: skip
        target = publish_run(run, name, version, options)
    except (ValueError, FileNotFoundError, FileExistsError, StreetWatchError) as error:
        raise _fail(error) from error
    typer.echo((target / "card.md").read_text(encoding="utf-8"))
    typer.echo(f"wrote {target}")


@app.command()
def inspect(
    video: Annotated[Path, typer.Argument(help="A video file from a patrol car or street camera.")],
    gps: Annotated[Path | None, typer.Option(help="GPS track of the drive: GPX, NMEA or CSV.")] = None,
    start: Annotated[
        str | None,
        typer.Option(help="Capture time of the first frame (ISO 8601 or Unix seconds); default: the track's start."),
    ] = None,
    model: Annotated[str, typer.Option(help="Zoo model name, or a path to a .onnx file.")] = DEFAULT_MODEL,
    int8: Annotated[bool, typer.Option("--int8", help="Use the int8 ONNX model.")] = False,
    tiles: Tiles = None,
    fps: Annotated[float, typer.Option(help="Frames per second of video time to analyse.")] = 5.0,
    min_distance: Annotated[
        float | None, typer.Option(help="With --gps: skip frames until the car moved this many metres.")
    ] = None,
    min_hits: Annotated[int, typer.Option(help="Frames a track needs to become a sighting.")] = 3,
    project_m: Annotated[float, typer.Option(help="Place sightings this many metres ahead along the heading.")] = 0.0,
    conf: Annotated[float, typer.Option(help="Detector confidence floor (the tracker's low threshold).")] = 0.1,
    out: Annotated[Path | None, typer.Option(help="Output folder (default runs/inspect/<video name>).")] = None,
    server: Annotated[
        str | None, typer.Option(help="Also send the sightings to the server at this base URL (http://host:8000).")
    ] = None,
    api_key: Annotated[str, typer.Option(envvar="STREETWATCH_DEVICE_KEY", help="The device key for --server.")] = "",
) -> None:
    """Find street events in a video: one geotagged sighting per object, with hashed evidence (JSON lines)."""
    from vision.frames import VideoFileSource, parse_time
    from vision.inspection import Inspection, InspectionConfig
    from vision.sightings import Sighting
    from vision.track_files import read_track
    from vision.tracking import TrackerSettings

    out = out or Path("runs/inspect") / video.stem
    if min_distance is not None and gps is None:
        raise typer.BadParameter("--min-distance needs --gps")
    try:
        config = InspectionConfig(fps=fps, min_distance_m=min_distance, min_hits=min_hits, project_m=project_m,
                                  tracker=TrackerSettings(low_threshold=conf), tiles=tiles)  # fmt: skip
        track = read_track(gps) if gps is not None else None
        start_time = parse_time(start) if start is not None else (track.start if track is not None else 0.0)
        if start_time is None:
            raise typer.BadParameter(f"--start {start!r} is neither ISO 8601 nor Unix seconds")
        source = VideoFileSource(video, start_time=start_time)
        if track is not None and source.duration is not None:
            track.check_covers(start_time, start_time + source.duration)
        detector = load_detector(model, "onnx", int8, config.detection, tiles=config.tiles)
    except (StreetWatchError, ValueError) as error:
        raise _fail(error) from error

    out.mkdir(parents=True, exist_ok=True)
    lines = (out / "sightings.jsonl").open("w", encoding="utf-8")
    inspection = Inspection(
        detector, config, out / "evidence", model=_model_reference(model),
        source=str(video), run=f"{video.name}@{start_time:.0f}",  # the same video and start: the same run again
        track=track,
    )  # fmt: skip

    from vision.outbox import Outbox, Sender
    from vision.server_client import ServerClient

    outbox = Outbox(out / "outbox.db") if server else None

    def write(sighting: Sighting) -> None:
        lines.write(sighting.to_json() + "\n")
        lines.flush()  # a sighting on disk as soon as its track ends
        if outbox is not None:
            outbox.put(sighting)

    expected = round((source.duration or 0) * fps) or None
    try:
        with typer.progressbar(length=expected or 1, label="inspecting") as bar:
            stats = inspection.run(source, write, on_frame=lambda _: bar.update(1))
    except StreetWatchError as error:  # FrameSourceError, GpsCoverageError, GpsTrackError among them
        raise _fail(error) from error
    finally:
        lines.close()
    sent = None
    if outbox is not None and server:
        sender = Sender(outbox.path, ServerClient.from_option(server, api_key))
        sender.send_pending(outbox)
        sent = outbox.counts()
        outbox.close()
        ended = start_time + source.stats.read / source.fps if source.fps else None
        driven = None
        if track is not None and ended is not None:  # the span the video covers, within the track
            driven = track.distance_between(max(start_time, track.start), min(max(ended, start_time), track.end))
        sender.report_run(inspection.run_name, {
            "started": start_time, "ended": ended, "distance_m": round(driven, 1) if driven is not None else None,
            "frames_analysed": stats.frames, "source": str(video),
        })  # fmt: skip
    summary = {
        "video": str(video),
        "gps": str(gps) if gps else None,
        "frames_analysed": stats.frames,
        "truncated": source.stats.truncated,
        "detections": stats.detections,
        "tracks": stats.tracks,
        "sightings": stats.sightings,
        "per_class": stats.per_class,
        "short_tracks_dropped": stats.short_tracks_dropped,
        "frames_per_second": round(stats.frames_per_second, 2),
        "server": sent,  # pending / sent / rejected in the outbox, when --server was given
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"wrote {out / 'sightings.jsonl'} and {out / 'evidence'}")


@app.command()
def edge(
    source: Annotated[
        str, typer.Argument(help="rtsp:// or http:// stream, a video file, or a folder of timed images.")
    ],
    server: Annotated[
        str | None, typer.Option(help="The server's base URL, e.g. http://host:8000 (none: queue only).")
    ] = None,
    api_key: Annotated[str, typer.Option(envvar="STREETWATCH_DEVICE_KEY", help="This device's API key.")] = "",
    outbox: Annotated[Path, typer.Option(help="On-disk outbox (SQLite).")] = Path("runs/edge/outbox.db"),
    evidence: Annotated[Path, typer.Option(help="Folder for evidence JPEGs.")] = Path("runs/edge/evidence"),
    model: Annotated[str, typer.Option(help="Zoo model name, or a path to a .onnx file.")] = DEFAULT_MODEL,
    int8: Annotated[bool, typer.Option("--int8", help="Use the int8 ONNX model.")] = False,
    tiles: Tiles = None,
    tiles_per_frame: Annotated[
        int | None,
        typer.Option(
            min=1, help="Run at most N tiles per frame, the rest on the next frames in rotation, to keep real time."
        ),
    ] = None,
    fps: Annotated[float, typer.Option(help="Frames per second to analyse.")] = 5.0,
    stall_seconds: Annotated[float, typer.Option(help="Reconnect a stream after this long without frames.")] = 20.0,
    give_up_after: Annotated[
        float | None, typer.Option(help="Stop when a stream stays offline this long (default: never).")
    ] = None,
    min_hits: Annotated[int, typer.Option(help="Frames a track needs to become a sighting.")] = 3,
    threads: Annotated[int | None, typer.Option(help="onnxruntime threads (default: all cores).")] = None,
    update_every: Annotated[
        float, typer.Option(help="Seconds between checks for a newly promoted model on the server (0: never).")
    ] = 300.0,
) -> None:
    """Run the model at the edge: live source → sightings → on-disk outbox → server, each sent exactly once."""
    from vision.edge import EdgeRunner, ModelFollower
    from vision.frames import ImageFolderSource, StreamSettings, StreamSource, VideoFileSource, without_credentials
    from vision.inspection import Inspection, InspectionConfig
    from vision.model_updates import ModelUpdater, SwappableDetector, served_file
    from vision.outbox import Outbox, Sender
    from vision.server_client import ServerClient

    try:
        client = ServerClient.from_option(server, api_key) if server else None
        config = InspectionConfig(fps=fps, min_hits=min_hits, tiles=tiles, tiles_per_frame=tiles_per_frame)
        tiling = tiling_config(model, config.tiles)
        if tiling is not None and config.tiles_per_frame is not None:
            tiling = tiling.model_copy(update={"tiles_per_frame": config.tiles_per_frame})
        whole = load_detector(model, "onnx", int8, config.detection, threads, tiles=False)
        detector = SwappableDetector(with_tiling(whole, tiling))  # the card's tiling, rotated on request
        frames: object
        if "://" in source:
            frames = StreamSource(source, StreamSettings(stall_seconds=stall_seconds), give_up_after=give_up_after)
        elif Path(source).is_dir():
            frames = ImageFolderSource(source)
        else:
            import time as clock

            frames = VideoFileSource(source, start_time=clock.time())
    except (StreetWatchError, ValueError) as error:
        raise _fail(error) from error
    shown = without_credentials(source)  # camera passwords stay out of sightings and the server's database
    run = f"{shown[:150]}@{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"  # one run per start of this edge process
    inspection = Inspection(detector, config, evidence, model=_model_reference(model), source=shown, run=run)
    queue = Outbox(outbox)
    follower = None
    if client is not None:
        updater = ModelUpdater(client, outbox.parent / "models", served_file(int8))
        follower = ModelFollower(updater, detector, inspection, tiling, threads)
    runner = EdgeRunner(inspection, queue, Sender(outbox, client) if client else None, follower, update_every)
    try:
        runner.run(frames)
    except KeyboardInterrupt:
        typer.echo("stopped")
    except StreetWatchError as error:
        raise _fail(error) from error
    finally:
        if isinstance(frames, StreamSource):
            frames.stop()
        counts = queue.counts()
        queue.close()
    typer.echo(f"outbox {outbox}: {counts['pending']} pending, {counts['sent']} sent, {counts['rejected']} rejected")


devices_app = typer.Typer(help="Register the cameras and patrol cars that post sightings.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Run the inference server (settings from STREETWATCH_* variables or .env; SQLite in data/server by default)."""
    import uvicorn

    from inference_server.app import create_app

    uvicorn.run(create_app(), host=host, port=port)


@devices_app.command("add")
def devices_add(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. car-07 or cam-renmin-rd-3.")],
    kind: Annotated[str, typer.Option(help="camera or patrol_car.")] = "camera",
) -> None:
    """Register a device and print its API key (shown once; the server keeps only its hash)."""
    from sqlalchemy.exc import IntegrityError

    from inference_server.devices import add_device
    from inference_server.settings import Settings

    try:
        key = add_device(Settings(), name, kind)
    except IntegrityError as error:
        raise _fail(ValueError(f"a device named {name!r} exists already")) from error
    typer.echo(key)


users_app = typer.Typer(
    help="People who review and supervise: admin, supervisor, reviewer, viewer.", no_args_is_help=True
)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str, typer.Option(help="admin, supervisor, reviewer or viewer.")] = "reviewer",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="STREETWATCH_NEW_PASSWORD")
    ] = "",
) -> None:
    """Create a user (the first one: `streetwatch users add admin --role admin`)."""
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from inference_server.auth import add_user
    from inference_server.db import create_schema, make_engine
    from inference_server.settings import Settings

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url)
    create_schema(engine)
    try:
        with Session(engine) as session:
            add_user(session, username, password, role)
    except (ValueError, IntegrityError) as error:
        message = f"a user named {username!r} exists already" if isinstance(error, IntegrityError) else str(error)
        raise _fail(ValueError(message)) from error
    typer.echo(f"added {username} ({role})")


db_app = typer.Typer(help="The server's database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (STREETWATCH_DATABASE_URL, default SQLite in the data dir) to the newest schema."""
    from inference_server.db import create_schema, current_revision, make_engine
    from inference_server.settings import Settings

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url)
    create_schema(engine)
    typer.echo(f"{engine.url.render_as_string(hide_password=True)}: schema at revision {current_revision(engine)}")


retraining.register(app, dataset_app)  # dataset from-reviews, retrain, models list / promote / rollback
