"""The schema comes from Alembic migrations, and they match the tables the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel
from typer.testing import CliRunner

from inference_server import tables  # noqa: F401
from inference_server.db import alembic_config, create_schema, current_revision, make_engine
from inference_server.settings import Settings
from streetwatch.cli import app
from tests.test_server_ingest import pg_server, settings  # noqa: F401  (fixtures: SQLite and PostgreSQL)


def test_migrations_build_exactly_the_declared_schema(settings: Settings) -> None:  # noqa: F811
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.url)
    create_schema(engine)
    create_schema(engine)  # a second run is a no-op
    heads = ScriptDirectory.from_config(alembic_config(None)).get_heads()
    assert [current_revision(engine)] == heads
    assert {
        "device",
        "sighting",
        "user",
        "token",
        "reviewdecision",
        "case",
        "casesighting",
        "caseevent",
        "videojob",
    } <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == [], "tables.py changed without a migration: add one under inference_server/migrations"


def test_db_upgrade_command(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STREETWATCH_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "schema at revision 000" in result.output and (tmp_path / "data" / "streetwatch.db").is_file()
