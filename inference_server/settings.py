"""Server settings from the environment (prefix `STREETWATCH_`) or a `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where data lives and the limits the server enforces."""

    model_config = SettingsConfigDict(env_prefix="STREETWATCH_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data/server"), description="SQLite database and evidence live here")
    database_url: str | None = Field(default=None, description="default: SQLite in data_dir; or postgresql://…")
    secret_key: str = Field(
        default="change-me", description="signs CSRF tokens; left as is, a random key is kept in data_dir/secret_key"
    )
    secure_cookies: bool = Field(default=False, description="mark session cookies Secure (set it behind HTTPS)")
    model: str = Field(default="", description="zoo model for server-side detection (default: the zoo default)")
    tiles: bool | None = Field(
        default=None, description="tile wide frames and videos for small objects (default: as the model's card says)"
    )
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, description="one request, all parts")
    max_evidence_bytes: int = Field(
        default=10 * 1024 * 1024, description="per evidence file (frame, crop, photo): a part over it is not read"
    )
    max_image_pixels: int = Field(default=50_000_000, description="per evidence image")
    deadlines: Path = Field(
        default=Path(__file__).with_name("config") / "deadlines.yaml",
        description="the city's working-hour deadlines per class and its calendar (read at start)",
    )
    departments: Path = Field(
        default=Path(__file__).with_name("config") / "departments.yaml",
        description="the departments cases are dispatched to (read at start)",
    )
    districts: Path | None = Field(
        default=None, description="GeoJSON of districts/streets (properties district, street)"
    )
    open311_public: bool = Field(default=False, description="serve the Open311 read API without signing in")
    review_threshold: float = Field(default=0.25, description="server-side detections at least this sure")
    case_radius_m: float = Field(default=50.0, description="a confirmed sighting joins an open case this close")
    active_learning: dict[str, Any] = Field(
        default_factory=dict,
        description="review queue order=informative: weights of inference_server.active_learning (JSON in the env)",
    )

    def make_data_dir(self) -> Path:
        """Create the data folder and its evidence and videos folders for the server's user only (0700) when they are
        new; returns the data folder."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (self.evidence_dir, self.data_dir / "videos"):
            folder.mkdir(mode=0o700, exist_ok=True)
        return self.data_dir

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'streetwatch.db'}"
