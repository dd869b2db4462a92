"""Inference server: FastAPI app factory, settings, database, ingest (issue #6, in progress).

Built: `create_app(settings)`, SQLite (WAL) or PostgreSQL, device API keys, `POST /api/v1/sightings` with
idempotency keys, evidence verification and content-addressed, atomically written evidence files; users with
roles (argon2 passwords, bearer tokens, a sign-in rate limit); the review queue and decisions; cases with the
数字城管 state machine, per-class deadlines and an event trail. Still to come: session cookies + CSRF for the review
UI, districts/streets from GeoJSON, exports, Open311, metrics, Alembic migrations, raw-frame and video ingest.
It may import `vision`, never `models` training code.
"""

import vision  # noqa: F401  first, so that OpenCV's decoder pixel limit is set before cv2 loads
