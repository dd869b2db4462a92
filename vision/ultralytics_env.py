"""Import ultralytics with every network access it would make switched off.

Ultralytics, left alone, probes DNS at import, downloads fonts for plots, downloads a checkpoint for `check_amp`,
pip-installs missing requirements and sends telemetry. None of that may happen here: machines reach only package
registries, and an inspection centre's servers often nothing at all. Call `import_ultralytics()` instead of
`import ultralytics`, and do it before anything else imports ultralytics.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

# Local fonts that stand in for the Arial.ttf / Arial.Unicode.ttf ultralytics would download.
_LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
_configured = False


def config_dir() -> Path:
    """StreetWatch's own ultralytics config folder (`STREETWATCH_CACHE_DIR`, default ~/.cache/streetwatch)."""
    root = Path(os.environ.get("STREETWATCH_CACHE_DIR", Path.home() / ".cache" / "streetwatch"))
    return root / "ultralytics"


def _install_fonts(folder: Path) -> None:
    latin = next((Path(f) for f in _LATIN_FONTS if Path(f).is_file()), None)
    cjk = next((Path(f) for f in _CJK_FONTS if Path(f).is_file()), latin)
    for target, source in (("Arial.ttf", latin), ("Arial.Unicode.ttf", cjk)):
        if source is not None and not (folder / target).exists():
            shutil.copyfile(source, folder / target)
    if latin is None:
        logger.warning("no local TTF font found; ultralytics plots will use PIL's default font")


def _local_font(font: str = "Arial.ttf") -> Path | None:
    """Replacement for ultralytics' `check_font`: the font from our config folder, never a download."""
    file = config_dir() / Path(font).name
    return file if file.exists() else None


def _read_results_csv(self: Any) -> dict[str, list[Any]]:
    """Replacement for `BaseTrainer.read_results_csv` that needs no polars (absent on the GPU machines)."""
    try:
        with open(self.csv, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return {}
    columns: dict[str, list[Any]] = {key.strip(): [] for key in (rows[0] if rows else {})}
    for row in rows:
        for key, value in row.items():
            try:
                columns[key.strip()].append(float(value))
            except (TypeError, ValueError):
                columns[key.strip()].append(value)
    return columns


def _polars_missing() -> bool:
    try:
        import polars  # noqa: F401
    except ImportError:
        return True
    return False


def _skip_plot(what: str) -> Any:
    def skip(self: Any) -> None:
        logger.info("polars is not installed: ultralytics' %s plot is skipped (training is unaffected)", what)

    return skip


def _check_amp_offline(model: Any) -> bool:
    """Replacement for `check_amp`, which downloads a checkpoint to compare fp32 and AMP: AMP on for CUDA."""
    device = next(model.parameters()).device
    return bool(device.type == "cuda")


def import_ultralytics() -> ModuleType:
    """Configure offline mode, then import and return the `ultralytics` module."""
    global _configured
    if not _configured:
        folder = config_dir()
        folder.mkdir(parents=True, exist_ok=True)
        _install_fonts(folder)
        os.environ["YOLO_OFFLINE"] = "1"  # no DNS probe at import; ultralytics.utils.ONLINE is False
        os.environ["YOLO_AUTOINSTALL"] = "0"  # never pip-install a missing requirement
        os.environ["YOLO_CONFIG_DIR"] = str(folder)  # settings.json and fonts live in our folder
        os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # training imports albumentations: no PyPI check
    import ultralytics
    import ultralytics.data.utils
    import ultralytics.engine.trainer
    import ultralytics.utils.checks
    import ultralytics.utils.plotting
    from ultralytics.utils import SETTINGS

    if not _configured:
        # No telemetry; no experiment-tracker integrations (each would try to reach its own server).
        SETTINGS.update(sync=False, clearml=False, comet=False, dvc=False, mlflow=False, raytune=False, wandb=False)  # type: ignore[no-untyped-call]
        for module in (ultralytics.utils.checks, ultralytics.data.utils, ultralytics.utils.plotting):
            module.check_font = _local_font  # type: ignore[attr-defined]
        ultralytics.engine.trainer.check_amp = _check_amp_offline  # type: ignore[attr-defined]
        ultralytics.engine.trainer.BaseTrainer.read_results_csv = _read_results_csv  # type: ignore[method-assign]
        if _polars_missing():  # the lent GPU machines have no polars; only these two plots need it
            from ultralytics.models.yolo.detect.train import DetectionTrainer

            DetectionTrainer.plot_training_labels = _skip_plot("labels")  # type: ignore[method-assign]
            ultralytics.engine.trainer.BaseTrainer.plot_metrics = _skip_plot("results")  # type: ignore[method-assign]
        _configured = True
    return ultralytics
