"""The retraining loop's commands: `dataset from-reviews`, `retrain`, `models list / promote / rollback`.

Registered on the main `streetwatch` app by `streetwatch.cli`; see docs/retraining.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from datasets.sources import REPO_ROOT
from vision.errors import StreetWatchError

DATASETS_OUT = REPO_ROOT / "data" / "datasets"
BASE = DATASETS_OUT / "base-v2"
models_app = typer.Typer(help="The registry of retrained models: list, promote, roll back.", no_args_is_help=True)


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=2)


def parse_since(value: str | None) -> datetime | None:
    """An ISO date/time (UTC unless it says otherwise) or Unix seconds, as an aware UTC datetime."""
    if not value:
        return None
    try:
        moment = datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise typer.BadParameter(f"--since: expected an ISO date/time or Unix seconds, got {value!r}") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def export_reviews(since: str | None, parent: Path, out: Path, benchmark_share: float) -> Path:
    """Read the server's decisions (STREETWATCH_* settings) and write the review dataset version; its folder."""
    from sqlmodel import Session

    from datasets.reviews import ReviewRecord, build_review_dataset
    from inference_server.db import make_engine
    from inference_server.review_export import review_records
    from inference_server.settings import Settings

    settings = Settings()
    engine = make_engine(settings.url)
    try:
        with Session(engine) as session:
            raw = review_records(session, settings.evidence_dir, parse_since(since))
    finally:
        engine.dispose()
    records = [ReviewRecord(**r) for r in raw]
    build = build_review_dataset(records, parent, out, benchmark_share)
    counts = build.manifest.counts()
    typer.echo(f"wrote {out}: {len(build.manifest.review_decisions)} decisions on {len(build.manifest.entries)} frames")
    typer.echo(f"  per split: {json.dumps(counts)}")
    for refused in build.refused:
        typer.echo(f"  refused frame {refused['frame_sha256']}: {refused['reason']}", err=True)
    return out


def from_reviews(
    since: Annotated[str | None, typer.Option(help="Decisions made at or after this (ISO time or Unix s).")] = None,
    parent: Annotated[Path, typer.Option(help="The parent dataset version.")] = BASE,
    out: Annotated[Path | None, typer.Option(help="New version folder (default data/datasets/reviews-<now>).")] = None,
    benchmark_share: Annotated[float, typer.Option(help="Share of frames frozen as benchmark (val).")] = 0.2,
) -> None:
    """Review decisions → labels: a new dataset version on top of PARENT (server settings from STREETWATCH_*)."""
    target = out or DATASETS_OUT / f"reviews-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    try:
        export_reviews(since, parent, target, benchmark_share)
    except (ValueError, FileExistsError, FileNotFoundError, StreetWatchError) as error:
        raise _fail(error) from error


def retrain(
    since: Annotated[str | None, typer.Option(help="Use decisions made at or after this.")] = None,
    base: Annotated[Path, typer.Option(help="The base dataset version.")] = BASE,
    reviews: Annotated[Path | None, typer.Option(help="An existing review version (else one is exported).")] = None,
    imgsz: Annotated[int, typer.Option(help="Training and export image size.")] = 640,
    epochs: Annotated[int, typer.Option(help="Fine-tuning epochs.")] = 10,
    batch: Annotated[int, typer.Option(help="Images per batch.")] = 16,
    device: Annotated[str, typer.Option(help="auto (GPU when present), cpu, or a CUDA index.")] = "auto",
    workers: Annotated[int, typer.Option(help="Data loader workers.")] = 2,
    fraction: Annotated[float, typer.Option(help="Share of the training images to use.")] = 1.0,
    review_repeat: Annotated[int, typer.Option(help="Times each reviewed frame is seen per epoch.")] = 1,
    lr0: Annotated[float, typer.Option(help="Fine-tuning learning rate (AdamW).")] = 0.001,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    cache: Annotated[str | None, typer.Option(help="Cache decoded images: ram or disk.")] = None,
    trained: Annotated[
        Path | None, typer.Option(help="A run trained elsewhere (a lent GPU): judge it instead of training.")
    ] = None,
    margin: Annotated[float, typer.Option(help="Gate: AP50 any one class may lose.")] = 0.02,
    min_gain: Annotated[float, typer.Option(help="Gate: mean AP50 must rise by more than this.")] = 0.0,
    review_threshold: Annotated[float, typer.Option(help="Recall and FP rate are counted at this score.")] = 0.25,
    runs: Annotated[Path, typer.Option(help="Work folder for runs and reports.")] = REPO_ROOT / "runs" / "retrain",
) -> None:
    """Fine-tune the current model on base + review labels, compare on the frozen benchmark, gate, register."""
    from pydantic import ValidationError

    from models.registry import current_model
    from models.retrain import RetrainConfig
    from models.retrain import retrain as run_retrain

    try:
        if reviews is None:
            reviews = export_reviews(since, base, DATASETS_OUT / f"reviews-{datetime.now(UTC):%Y%m%d-%H%M%S}", 0.2)
        config = RetrainConfig.model_validate({
            "base": base, "reviews": reviews, "imgsz": imgsz, "epochs": epochs, "batch": batch, "device": device,
            "workers": workers, "fraction": fraction, "margin": margin, "min_gain": min_gain,
            "review_threshold": review_threshold, "review_repeat": review_repeat, "cache": cache,
            "lr0": lr0, "seed": seed,
        })  # fmt: skip
        result = run_retrain(config, current_model(), runs, trained=trained)
    except (ValueError, ValidationError, FileExistsError, FileNotFoundError, StreetWatchError) as error:
        raise _fail(error) from error
    typer.echo(result.report.read_text(encoding="utf-8"))
    status = "promoted" if result.decision.promote else "rejected"
    typer.echo(f"{result.reference}: {status}; registry folder {result.folder}")


@models_app.command("list")
def models_list() -> None:
    """Every registered version: status, parent, data, mean AP50; and which model serves now."""
    from models.registry import current_model
    from models.versions import list_versions

    typer.echo(f"current: {current_model()}")
    for card in list_versions():
        gate = card.get("gate", {})
        typer.echo(
            f"{card['name']}@{card['version']}  {card.get('status')}  parent {card.get('parent')}  "
            f"data {card.get('training', {}).get('dataset', {}).get('name')}  "
            f"mean AP50 {gate.get('candidate_mean')} (parent {gate.get('current_mean')})"
            + (f"  reasons: {'; '.join(gate['reasons'])}" if gate.get("reasons") else "")
        )


@models_app.command("promote")
def models_promote(reference: Annotated[str, typer.Argument(help="name@version in the registry.")]) -> None:
    """Make a registered version current (its files must verify); servers and edge devices pick it up."""
    from models.versions import promote

    try:
        typer.echo(f"current: {promote(reference)['reference']}")
    except StreetWatchError as error:
        raise _fail(error) from error


@models_app.command("rollback")
def models_rollback() -> None:
    """Go back to the previously promoted version (or the zoo default)."""
    from models.registry import current_model
    from models.versions import rollback

    try:
        rollback()
    except StreetWatchError as error:
        raise _fail(error) from error
    typer.echo(f"current: {current_model()}")


def register(app: typer.Typer, dataset_app: typer.Typer) -> None:
    dataset_app.command("from-reviews")(from_reviews)
    app.command("retrain")(retrain)
    app.add_typer(models_app, name="models")
