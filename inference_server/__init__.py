"""Inference server: FastAPI app factory, settings, database, ingest (issue #6, in progress).

Built: `create_app(settings)`, SQLite (WAL) or PostgreSQL, device API keys, `POST /api/v1/sightings` with
idempotency keys, evidence verification and content-addressed, atomically written evidence files. Still to come:
users and roles, review and case APIs, exports, Open311, metrics, Alembic migrations, raw-frame ingest.
It may import `vision`, never `models` training code.
"""
