"""Inference server: the FastAPI app devices upload to, reviewers and supervisors work in.

`app.create_app(settings)` wires the settings, the app's state, middleware and the routers of `routes/` (one per
resource: auth, sightings, frames, videos, review, cases, exports, Open311, evidence, runs, models, health, the
review UI). The domain logic the routes call: `ingest` (sightings with idempotency keys, batches, raw frames),
`review` (the queue, decisions, undo, batch reject), `cases` (the 数字城管 state machine, deadlines, a case's record),
`runs`, `models_api` (the served model, hot swap), `videos`, `active_learning`, `dashboard`; underneath: `tables`,
`db` (SQLite WAL or PostgreSQL, Alembic `migrations/`), `auth` and `deps` (argon2, bearer tokens, session cookies +
CSRF, roles), `evidence` (content-addressed, atomically written files), `geo` (districts and streets).
It may import `vision` and the model registry (`models.registry`, `models.versions`), never `models` training code.
"""

import vision  # noqa: F401  first, so that OpenCV's decoder pixel limit is set before cv2 loads
