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


def test_a_database_at_each_released_revision_upgrades_to_the_head(settings: Settings) -> None:  # noqa: F811
    """The chain reads 0001 → 0002 → 0003 → 0006 → 0004 → 0007 (0006 reached main first). The ids stay as they are:
    a database is stamped with one, and a renumbered chain would not know where a database stamped 0004 or 0006
    stands. Every revision a server has run upgrades, with a device in it, to exactly the declared schema."""
    from alembic import command

    script = ScriptDirectory.from_config(alembic_config(None))
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert chain == ["0001", "0002", "0003", "0006", "0004", "0007"]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for index, revision in enumerate(chain):
        engine = make_engine(settings.url)
        with engine.begin() as connection:
            cascade = " CASCADE" if connection.dialect.name == "postgresql" else ""
            for table in [*reversed(SQLModel.metadata.sorted_tables), "alembic_version"]:  # as old as `revision`
                connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{getattr(table, "name", table)}"{cascade}')
            command.upgrade(alembic_config(connection), revision)
            connection.exec_driver_sql(
                "INSERT INTO device (name, kind, key_hash, active, created) "
                f"VALUES ('cam-{index}', 'camera', '{index:064d}', TRUE, CURRENT_TIMESTAMP)"
            )
        create_schema(engine)  # what the server does on start
        assert current_revision(engine) == chain[-1]
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT name FROM device").scalars().all() == [f"cam-{index}"]
            differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        engine.dispose()
        assert differences == [], revision
