"""The FastAPI application: `create_app(settings)`.

Ingest from devices (sightings with evidence, raw frames, video uploads) with API keys, idempotency keys, evidence
verification and crash-safe storage; sign-in (bearer tokens or a session cookie with CSRF, see `deps`); the review
queue and decisions; cases through the 数字城管 workflow; exports, Open311, evidence, health and metrics.
"""

import hashlib
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import cv2
from fastapi import Cookie, Depends, FastAPI, File, Form, Header, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import from_json
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select, text

from inference_server import auth, exports, runs, ui_api
from inference_server.active_learning import ActiveLearningConfig, ServerRescorer
from inference_server.active_learning import informative_queue as rank_informative
from inference_server.body_limits import BodyLimit
from inference_server.cases import STATES, TransitionError, file_or_attach, transition
from inference_server.credential_gate import CredentialGate
from inference_server.db import create_schema, make_engine
from inference_server.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_token,
    device,
    role,
    server_secret,
    session,
    user,
)
from inference_server.evidence import (
    EvidenceError,
    Part,
    check_evidence,
    check_part,
    close_areas,
    evidence_path,
    store,
    store_many,
    sweep_incoming,
)
from inference_server.geo import load_areas, locate
from inference_server.headers import SECURITY_HEADERS
from inference_server.metrics import Metrics
from inference_server.models_api import ServedModel
from inference_server.models_api import router as models_router
from inference_server.runs import RunIds
from inference_server.settings import Settings
from inference_server.tables import (
    DB_INT_MAX,
    Case,
    CaseEvent,
    CasePhoto,
    CaseSighting,
    Device,
    ReviewDecision,
    Sighting,
    SightingPublic,
    User,
    VideoJob,
)
from inference_server.videos import Upload, UploadRefused, VideoWorker, keep_upload
from inference_server.wire import Box, Heading, Label, Latitude, Longitude, Score, UnixTime, error_details
from vision.errors import ImageError
from vision.images import ImageLimits, decode_image
from vision.sightings import crop_box
from vision.taxonomy import load_taxonomy

logger = logging.getLogger(__name__)


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lat: Latitude
    lon: Longitude
    heading_deg: Heading | None = None


# row ids: SQLite and PostgreSQL integers are signed 64-bit
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


class DecisionIn(BaseModel):
    """A reviewer's decision about a sighting."""

    model_config = ConfigDict(extra="forbid")
    action: str = Field(pattern="^(confirm|reject|relabel|fix_box)$")
    class_name: str | None = Field(default=None, max_length=200)
    box: Box | None = None
    note: str = Field(default="", max_length=2000)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(max_length=200)
    note: str = Field(default="", max_length=2000)
    department: str | None = Field(default=None, max_length=200)
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="closing: the caller's 1-5 rating")


class VideoIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    start_time: UnixTime = Field(description="Unix seconds of the video's first frame")


class FrameIn(BaseModel):
    """The `metadata` of a raw frame."""

    model_config = ConfigDict(extra="ignore")
    time: UnixTime
    lat: Latitude | None = None
    lon: Longitude | None = None
    heading_deg: Heading | None = None


MAX_BATCH = 100  # sightings per batch request; the request's byte limit applies too


class BatchItemOut(BaseModel):
    """One sighting's answer in a batch: 201 stored, 200 already stored (a retry), 409 key reused, 422 refused."""

    key: str
    status: int
    error: str | None = None
    sighting: SightingPublic | None = None


class SightingIn(BaseModel):
    """The `metadata` part of an ingest request: what `vision.sightings.Sighting.to_json()` writes."""

    model_config = ConfigDict(extra="ignore")
    sighting_id: str = Field(min_length=1, max_length=200)
    class_name: str = Field(max_length=200)
    score: Score
    frames: int = Field(ge=1, le=DB_INT_MAX)
    first_time: UnixTime
    last_time: UnixTime
    best_time: UnixTime
    box: Box
    location: LocationIn | None = None
    frame: EvidenceIn
    crop: EvidenceIn
    source: Label = ""
    model: Label = ""
    run: str = Field(default="", max_length=200, description="the device's name for its patrol run, if any")

    @field_validator("class_name")
    @classmethod
    def _known_class(cls, value: str) -> str:
        names = load_taxonomy().names
        if value not in names:
            raise ValueError(f"unknown class {value!r}; known: {', '.join(names)}")
        return value


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.make_data_dir()
    engine = make_engine(settings.url)
    limits = ImageLimits(max_bytes=settings.max_evidence_bytes, max_pixels=settings.max_image_pixels)
    areas = load_areas(settings.districts)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        create_schema(engine)
        for root in (settings.evidence_dir, settings.data_dir / "videos"):
            removed = sweep_incoming(root)
            if removed:
                logger.warning("removed %d half-written files under %s left by a crash", removed, root)
        worker.start()
        yield
        worker.stop()
        close_areas(settings.evidence_dir, settings.data_dir / "videos")
        engine.dispose()

    app = FastAPI(title="StreetWatch", version="0.1.0", lifespan=lifespan)
    app.state.settings, app.state.engine = settings, engine
    app.state.secret = server_secret(settings.data_dir, settings.secret_key)
    app.state.run_ids = run_ids = RunIds()
    app.include_router(runs.router)

    @app.exception_handler(RequestValidationError)
    async def refused(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": error_details(error.errors())}, 422)  # NaN in `input` would make it a 500

    # innermost, so that its 413 is raised where the router reads (the http middlewares' task groups would wrap it)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(CredentialGate, engine=engine)  # a body without valid credentials: 401 before it is read

    @app.middleware("http")
    async def measure_latency(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.latency.labels(path=getattr(route, "path", "other")).observe(time.perf_counter() - started)
        return response

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:  # outermost: on every answer, 413 too
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    app.state.sign_ins = limiter = auth.LoginLimiter()

    @app.post("/api/v1/auth/token")
    def token(
        request: Request,
        s: Annotated[Session, Depends(session)],
        username: Annotated[str, Form(max_length=auth.MAX_NAME)],
        password: Annotated[str, Form(max_length=auth.MAX_PASSWORD)],
    ) -> dict[str, str]:
        client = request.client.host if request.client else "unknown"
        if limiter.blocked(client, username):
            raise HTTPException(429, "too many failed sign-ins from this address; wait and try again")
        issued = auth.login(s, username, password)
        if issued is None:
            limiter.failed(client, username)
            raise HTTPException(401, "wrong username or password")
        limiter.succeeded(client, username)
        return {"access_token": issued, "token_type": "bearer"}

    @app.post("/api/v1/auth/session")
    def sign_in(
        request: Request,
        response: Response,
        s: Annotated[Session, Depends(session)],
        username: Annotated[str, Form(max_length=auth.MAX_NAME)],
        password: Annotated[str, Form(max_length=auth.MAX_PASSWORD)],
    ) -> dict[str, str]:
        """Browser sign-in: an HttpOnly session cookie and the CSRF token to send with every change."""
        issued = token(request, s, username, password)["access_token"]
        csrf = csrf_token(app.state.secret, issued)
        found = auth.user_for_token(s, issued)
        assert found is not None  # just issued
        age = auth.TOKEN_HOURS * 3600
        secure = settings.secure_cookies
        response.set_cookie(SESSION_COOKIE, issued, max_age=age, httponly=True, samesite="strict", secure=secure)
        response.set_cookie(CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="strict", secure=secure)
        return {"username": found.username, "role": found.role, "csrf_token": csrf}

    @app.delete("/api/v1/auth/session", status_code=204)
    def sign_out(
        response: Response,
        s: Annotated[Session, Depends(session)],
        _: Annotated[User, Depends(user)],
        authorization: Annotated[str | None, Header()] = None,
        sw_session: Annotated[str | None, Cookie()] = None,
    ) -> None:
        """Sign out: the credential this request used (bearer token or session cookie) stops working."""
        if authorization and authorization.startswith("Bearer "):
            auth.revoke(s, authorization.removeprefix("Bearer "))
        elif sw_session:
            auth.revoke(s, sw_session)
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(CSRF_COOKIE)

    @app.get("/api/v1/auth/me")
    def me(who: Annotated[User, Depends(user)]) -> dict[str, Any]:
        return {"id": who.id, "username": who.username, "role": who.role}

    @app.get("/api/v1/review/queue", response_model=list[SightingPublic])
    def review_queue(
        s: Annotated[Session, Depends(session)],
        _: Annotated[User, Depends(role("reviewer"))],
        class_name: str | None = None,
        district: str | None = None,
        min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
        since: float | None = None,
        order: Annotated[str, Query(pattern="^(score|time|oldest|informative)$")] = "score",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Any:
        query = select(Sighting).where(Sighting.status == "pending", Sighting.score >= min_score)
        if class_name:
            query = query.where(Sighting.class_name == class_name)
        if district:
            query = query.where(Sighting.district == district)
        if since is not None:
            query = query.where(Sighting.best_time >= since)
        if order == "informative":  # active learning (inference_server.active_learning)
            return informative_queue(s, query, limit)
        ordering = {
            "score": (col(Sighting.score).desc(), col(Sighting.id)),
            "time": (col(Sighting.best_time).desc(), col(Sighting.id)),
            "oldest": (col(Sighting.best_time), col(Sighting.id)),
        }[order]
        return s.exec(query.order_by(*ordering).limit(limit)).all()

    @app.post("/api/v1/sightings/{sighting_id}/decision")
    def decide(
        sighting_id: RowId,
        decision: DecisionIn,
        s: Annotated[Session, Depends(session)],
        reviewer: Annotated[User, Depends(role("reviewer"))],
    ) -> dict[str, Any]:
        found = s.get(Sighting, sighting_id)
        if found is None:
            raise HTTPException(404, f"no sighting {sighting_id}")
        if found.status != "pending":
            raise HTTPException(409, f"sighting {sighting_id} was decided already ({found.status})")
        before = {"class_name": found.class_name, "box": list(found.box)}  # what an undo restores
        if decision.action == "relabel":
            if decision.class_name not in load_taxonomy().names:
                raise unprocessable(f"relabel needs a known class_name, got {decision.class_name!r}")
            found.class_name = decision.class_name
        if decision.action == "fix_box":
            if decision.box is None:
                raise unprocessable("fix_box needs the corrected box")
            found.box = list(decision.box)
        s.add(ReviewDecision(
            sighting_id=sighting_id, user_id=reviewer.id or 0, action=decision.action,
            class_name=decision.class_name, box=list(decision.box) if decision.box else None, note=decision.note,
            before=before,
        ))  # fmt: skip
        case_id = None
        if decision.action == "reject":
            found.status = "rejected"
        else:  # confirm, relabel and fix_box all say: this is a real event
            found.status = "confirmed"
            case_id = file_or_attach(s, found, reviewer.id or 0, settings.case_radius_m).id
        s.add(found)
        s.commit()
        return {"sighting": sighting_id, "status": found.status, "case": case_id}

    @app.get("/api/v1/cases")
    def list_cases(
        s: Annotated[Session, Depends(session)],
        _: Annotated[User, Depends(role("viewer"))],
        state: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[Case]:
        query = select(Case)
        if state:
            query = query.where(Case.state == state)
        return list(s.exec(query.order_by(col(Case.id)).limit(limit)).all())

    @app.get("/api/v1/cases/{case_id}")
    def get_case(
        case_id: RowId, s: Annotated[Session, Depends(session)], _: Annotated[User, Depends(role("viewer"))]
    ) -> dict[str, Any]:
        case = s.get(Case, case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        events = s.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))).all()
        links = s.exec(select(CaseSighting).where(CaseSighting.case_id == case_id)).all()
        photos = s.exec(select(CasePhoto).where(CasePhoto.case_id == case_id).order_by(col(CasePhoto.id))).all()
        return {
            "photos": [p.model_dump(mode="json") for p in photos],
            "case": case.model_dump(mode="json"),
            "state_zh": STATES[case.state],
            "sightings": [link.sighting_id for link in links],
            "events": [e.model_dump(mode="json") for e in events],
        }

    @app.post("/api/v1/cases/{case_id}/transition")
    def change_case(
        case_id: RowId,
        change: TransitionIn,
        s: Annotated[Session, Depends(session)],
        supervisor: Annotated[User, Depends(role("supervisor"))],
    ) -> dict[str, Any]:
        case = s.get(Case, case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        try:
            transition(s, case, change.to, supervisor.id or 0, change.note, change.department)
        except TransitionError as error:
            raise HTTPException(409, str(error)) from error
        if change.to == "closed" and change.satisfaction is not None:
            case.satisfaction = change.satisfaction
            s.add(case)
        s.commit()
        return {"case": case_id, "state": case.state, "state_zh": STATES[case.state]}

    @app.get("/metrics")
    def prometheus(s: Annotated[Session, Depends(session)]) -> Response:
        pending = s.exec(select(func.count()).select_from(Sighting).where(Sighting.status == "pending")).one()
        metrics.queue.set(pending)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def open311_reader(
        request: Request,
        s: Annotated[Session, Depends(session)],
        authorization: Annotated[str | None, Header()] = None,
        sw_session: Annotated[str | None, Cookie()] = None,
    ) -> None:
        if not settings.open311_public:
            role("viewer")(user(request, s, authorization, sw_session))

    @app.get("/open311/v2/services.json")
    def open311_services(_: Annotated[None, Depends(open311_reader)]) -> list[dict[str, Any]]:
        return [
            {"service_code": c.name, "service_name": c.zh, "description": c.description, "metadata": False,
             "type": "realtime", "keywords": c.name, "group": c.category}
            for c in load_taxonomy().classes
        ]  # fmt: skip

    @app.get("/open311/v2/requests.json")
    def open311_requests(
        s: Annotated[Session, Depends(session)],
        _: Annotated[None, Depends(open311_reader)],
        status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
        service_code: str | None = None,
    ) -> list[dict[str, Any]]:
        query = select(Case).order_by(col(Case.id))
        if service_code:
            query = query.where(Case.class_name == service_code)
        requests = [open311_request(case) for case in s.exec(query).all()]
        return [r for r in requests if status is None or r["status"] == status]

    @app.get("/api/v1/exports/{what}.{fmt}")
    def export(
        what: str, fmt: str, s: Annotated[Session, Depends(session)], _: Annotated[User, Depends(role("viewer"))]
    ) -> Response:
        if what not in ("cases", "sightings") or fmt not in ("csv", "geojson"):
            raise HTTPException(404, "exports: cases or sightings, as .csv or .geojson")
        table: Any = Case if what == "cases" else Sighting
        rows = [row.model_dump(mode="json") for row in s.exec(select(table).order_by(col(table.id))).all()]
        if fmt == "geojson":
            return Response(exports.to_geojson(rows), media_type="application/geo+json")
        return Response(exports.to_csv(rows, list(table.model_fields)), media_type="text/csv; charset=utf-8")

    @app.post("/api/v1/cases/{case_id}/photos", status_code=201)
    def add_case_photo(
        case_id: RowId,
        s: Annotated[Session, Depends(session)],
        who: Annotated[User, Depends(role("supervisor"))],
        photo: Annotated[UploadFile, File(description="the rectified spot (JPEG or PNG)")],
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> dict[str, Any]:
        """Attach a rectification photo; it is logged in the case's trail."""
        case = s.get(Case, case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        try:
            data = Part.of(photo.file).read_within(limits.max_bytes, "photo")
            decode_image(data, limits, "photo")
        except (ImageError, EvidenceError) as error:
            raise unprocessable(str(error)) from error
        digest = hashlib.sha256(data).hexdigest()
        store(settings.evidence_dir, digest, data)
        s.add(CasePhoto(case_id=case_id, user_id=who.id or 0, sha256=digest, note=note))
        s.add(CaseEvent(case_id=case_id, user_id=who.id, from_state=case.state, to_state=case.state,
                        note=f"photo {digest[:12]}: {note}".strip()))  # fmt: skip
        s.commit()
        return {"case": case_id, "sha256": digest}

    @app.get("/api/v1/evidence/{sha256}")
    def evidence(
        sha256: Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$")], _: Annotated[User, Depends(role("viewer"))]
    ) -> Response:
        """An evidence file or case photo by its sha256 (what the review UI shows)."""
        path = evidence_path(settings.evidence_dir, sha256)
        if not path.is_file():
            raise HTTPException(404, "no such evidence")
        return Response(path.read_bytes(), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/healthz")
    def healthz(s: Annotated[Session, Depends(session)]) -> dict[str, str]:
        s.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return {"status": "ok", "database": engine.dialect.name}

    @app.post("/api/v1/sightings", status_code=201, response_model=SightingPublic)
    def ingest(
        s: Annotated[Session, Depends(session)],
        sender: Annotated[Device, Depends(device)],
        metadata: Annotated[str, Form(description="the sighting as JSON")],
        frame: Annotated[UploadFile, File(description="the full frame JPEG, untouched (the box is in the metadata)")],
        crop: Annotated[UploadFile, File(description="crop JPEG")],
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Any:
        try:
            record = SightingIn.model_validate_json(metadata)
        except ValidationError as error:
            raise HTTPException(422, error_details(error.errors())) from error
        # a sync endpoint: FastAPI runs it in its thread pool, file and database waits do not block the event loop
        return save(s, sender.id or 0, idempotency_key or record.sighting_id, metadata, record, frame.file, crop.file)

    def save(s: Session, device_id: int, key: str, metadata: str, record: SightingIn, frame: Any, crop: Any) -> Any:
        """Store one sighting (evidence first, then the row); a repeat of its key gets the stored one or a 409."""
        metadata_sha = canonical_digest(json.loads(metadata))
        existing = s.exec(
            select(Sighting).where(Sighting.device_id == device_id, Sighting.idempotency_key == key)
        ).first()
        if existing is not None:
            return _repeat(existing, metadata_sha)
        try:  # an uploaded part over the evidence limit is refused before it is read into memory
            frame_bytes = frame if isinstance(frame, bytes) else Part.of(frame).read_within(limits.max_bytes, "frame")
            crop_bytes = crop if isinstance(crop, bytes) else Part.of(crop).read_within(limits.max_bytes, "crop")
            frame_sha = check_evidence(frame_bytes, record.frame.sha256, "frame", limits)
            crop_sha = check_evidence(crop_bytes, record.crop.sha256, "crop", limits)
        except EvidenceError as error:
            raise unprocessable(str(error)) from error
        # files first, then the row: a crash in between leaves content-addressed files a retry reuses
        store(settings.evidence_dir, frame_sha, frame_bytes)
        store(settings.evidence_dir, crop_sha, crop_bytes)
        row = sighting_row(record, key, metadata_sha, device_id)
        if record.run:
            row.run_id = run_ids.get(engine, device_id, record.run)
            runs.count_sightings(s, row.run_id, [record.best_time])
        s.add(row)
        try:
            s.commit()
        except IntegrityError:  # the same key committed by a concurrent request a moment ago
            s.rollback()
            winner = s.exec(
                select(Sighting).where(Sighting.device_id == device_id, Sighting.idempotency_key == key)
            ).one()
            return _repeat(winner, metadata_sha)
        s.refresh(row)
        metrics.ingested.labels(class_name=row.class_name).inc()
        return row

    served = app.state.served = ServedModel(
        settings.model, tiles=settings.tiles
    )  # follows the promoted model (hot swap)
    rescorer = ServerRescorer(served.current, settings.evidence_dir)
    app.include_router(models_router)

    def informative_queue(s: Session, query: Any, limit: int) -> Any:
        config = ActiveLearningConfig.model_validate(settings.active_learning)
        return rank_informative(s, query, limit, settings.review_threshold, config, rescorer)

    def sighting_row(record: SightingIn, key: str, metadata_sha: str, device_id: int) -> Sighting:
        location = record.location
        district, street = locate(areas, location.lat if location else None, location.lon if location else None)
        return Sighting(
            idempotency_key=key, metadata_sha256=metadata_sha, device_id=device_id,
            class_name=record.class_name, score=record.score, frames=record.frames, first_time=record.first_time,
            last_time=record.last_time, best_time=record.best_time, box=list(record.box),
            lat=location.lat if location else None, lon=location.lon if location else None,
            heading_deg=location.heading_deg if location else None, model=record.model, source=record.source,
            frame_sha256=record.frame.sha256.lower(), crop_sha256=record.crop.sha256.lower(), district=district,
            street=street,
        )  # fmt: skip

    @app.post("/api/v1/sightings/batch", response_model=list[BatchItemOut])
    def ingest_batch(
        s: Annotated[Session, Depends(session)],
        sender: Annotated[Device, Depends(device)],
        sightings: Annotated[str, Form(description="JSON array of sightings, each as POST /api/v1/sightings takes")],
        evidence: Annotated[
            list[UploadFile], File(description="every frame and crop the sightings name, each once (by sha256)")
        ],
    ) -> list[BatchItemOut]:
        """Many sightings in one request, for an edge device emptying its backlog: one answer per sighting.

        Each sighting is accepted (201), recognised as already stored (200, a retry), or refused on its own (409
        for a reused key, 422 for missing or bad evidence); accepted ones are committed together after all their
        evidence is on disk, so a crash leaves each of them wholly stored or not at all.
        """
        try:  # pydantic's parser bounds nesting depth (json.loads would hit a RecursionError on 100,000 `[`)
            raw = from_json(sightings)
        except ValueError as error:
            raise unprocessable(f"sightings: not JSON ({error})") from error
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BATCH:
            raise unprocessable(f"sightings: a JSON array of 1 to {MAX_BATCH} sightings")
        files = {part.sha256: part for part in (Part.of(upload.file) for upload in evidence)}  # hashed, not held
        answers: list[BatchItemOut] = []
        accepted: list[tuple[BatchItemOut, SightingIn, Sighting]] = []
        checked: set[str] = set()
        accepted_keys: set[str] = set()
        keys = [item.get("sighting_id") if isinstance(item, dict) else None for item in raw]
        stored = {
            row.idempotency_key: row
            for row in s.exec(
                select(Sighting).where(
                    Sighting.device_id == sender.id, col(Sighting.idempotency_key).in_([k for k in keys if k])
                )
            )
        }
        for item in raw:
            answer = BatchItemOut(key=str(item.get("sighting_id", "")) if isinstance(item, dict) else "", status=422)
            answers.append(answer)
            try:
                record = SightingIn.model_validate(item)
            except ValidationError as error:
                answer.error = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
                continue
            metadata_sha = canonical_digest(item)
            if record.sighting_id in accepted_keys:
                answer.error = "this key appears twice in the batch"
                continue
            previous = stored.get(record.sighting_id)
            if previous is not None:
                if previous.metadata_sha256 != metadata_sha:
                    answer.status, answer.error = 409, "this key was used for a different sighting"
                else:
                    answer.status, answer.sighting = 200, SightingPublic.model_validate(previous)
                continue
            try:
                for name, part in (("frame", record.frame), ("crop", record.crop)):
                    sha = part.sha256.lower()
                    if sha not in checked:
                        if sha not in files:
                            raise EvidenceError(f"{name}: no evidence file with sha256 {sha} in the request")
                        check_part(files[sha], sha, name, limits)
                        checked.add(sha)
            except EvidenceError as error:
                answer.error = str(error)
                continue
            accepted.append((answer, record, sighting_row(record, record.sighting_id, metadata_sha, sender.id or 0)))
            accepted_keys.add(record.sighting_id)
        store_many(settings.evidence_dir, {sha: files[sha] for sha in checked})
        if accepted:
            per_run: dict[int, list[float]] = {}
            for _, record, row in accepted:
                if record.run:
                    row.run_id = run_ids.get(engine, sender.id or 0, record.run)
                    per_run.setdefault(row.run_id, []).append(record.best_time)
            for run_id, times in per_run.items():
                runs.count_sightings(s, run_id, times)
            s.add_all(row for _, _, row in accepted)
            s.expire_on_commit = False  # the rows hold what was written (ids from the insert): no re-reads
            try:
                s.commit()
            except IntegrityError:  # a concurrent request stored some of these keys: one at a time instead
                s.rollback()
                one_by_one(s, [(answer, row) for answer, _, row in accepted])
                return answers  # every sighting's answer, the ones refused above included
            for answer, _, row in accepted:
                answer.status, answer.sighting = 201, SightingPublic.model_validate(row)
                metrics.ingested.labels(class_name=row.class_name).inc()
        return answers

    def one_by_one(s: Session, accepted: list[tuple[BatchItemOut, Sighting]]) -> None:
        """After a batch's commit lost a race on some keys: each sighting on its own, as a single post would; its
        answer is set in place."""
        for answer, row in accepted:
            fresh = Sighting.model_validate(row.model_dump(exclude={"id"}))
            if fresh.run_id is not None:
                runs.count_sightings(s, fresh.run_id, [fresh.best_time])
            s.add(fresh)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                mine = Sighting.device_id == row.device_id, Sighting.idempotency_key == row.idempotency_key
                winner = s.exec(select(Sighting).where(*mine)).one()
                same = winner.metadata_sha256 == row.metadata_sha256
                answer.status = 200 if same else 409
                answer.sighting = SightingPublic.model_validate(winner) if same else None
                answer.error = None if same else "this key was used for a different sighting"
                continue
            s.refresh(fresh)
            answer.status, answer.sighting = 201, SightingPublic.model_validate(fresh)
            metrics.ingested.labels(class_name=fresh.class_name).inc()

    def server_detector() -> Any:
        return served.current()[0]

    @app.post("/api/v1/frames", status_code=201, response_model=list[SightingPublic])
    def ingest_frame(
        s: Annotated[Session, Depends(session)],
        sender: Annotated[Device, Depends(device)],
        metadata: Annotated[str, Form(description='{"time": unix seconds, "lat": …, "lon": …, "heading_deg": …}')],
        image: Annotated[UploadFile, File(description="a JPEG or PNG frame from a camera without its own model")],
        idempotency_key: Annotated[str, Header(max_length=180)],
    ) -> Any:
        """Run the server's detector on one frame; each detection of a taxonomy class becomes a sighting."""
        try:
            meta = FrameIn.model_validate_json(metadata)
        except ValidationError as error:
            raise HTTPException(422, error_details(error.errors())) from error
        earlier = frame_rows(s, sender.id or 0, idempotency_key)
        if earlier:
            return [r for r in earlier if not r.idempotency_key.endswith("#none")]
        try:
            data = Part.of(image.file).read_within(limits.max_bytes, "image")
            pixels = decode_image(data, limits, "image")
        except (ImageError, EvidenceError) as error:
            raise unprocessable(str(error)) from error
        detector, model_reference = served.current()  # the pair: a swap mid-request cannot mislabel its sightings
        found = detector.detect(pixels)
        names, known = detector.class_names, set(load_taxonomy().names)
        district, street = locate(areas, meta.lat, meta.lon)
        metadata_sha = hashlib.sha256(metadata.encode()).hexdigest()
        rows = []
        clean_frame = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
        for index in range(len(found)):
            name = names[int(found.class_id[index])]
            if name not in known or found.confidence[index] < settings.review_threshold:
                continue
            box = [float(v) for v in found.xyxy[index]]
            frame_bytes = clean_frame  # one untouched frame shared by all its sightings; boxes are numbers
            crop_bytes = cv2.imencode(
                ".jpg", crop_box(pixels, (box[0], box[1], box[2], box[3])), [cv2.IMWRITE_JPEG_QUALITY, 92]
            )[1].tobytes()
            frame_sha, crop_sha = hashlib.sha256(frame_bytes).hexdigest(), hashlib.sha256(crop_bytes).hexdigest()
            store(settings.evidence_dir, frame_sha, frame_bytes)
            store(settings.evidence_dir, crop_sha, crop_bytes)
            rows.append(Sighting(
                idempotency_key=f"{idempotency_key}#{index}", metadata_sha256=metadata_sha,
                device_id=sender.id or 0, class_name=name, score=float(found.confidence[index]), frames=1,
                first_time=meta.time, last_time=meta.time, best_time=meta.time, box=box, lat=meta.lat, lon=meta.lon,
                heading_deg=meta.heading_deg, model=model_reference, source="server detector",
                frame_sha256=frame_sha, crop_sha256=crop_sha, district=district, street=street,
            ))  # fmt: skip
        if not rows:  # remember that this frame was processed and held nothing, so a retry is answered the same
            rows_to_store: list[Sighting] = [Sighting(
                idempotency_key=f"{idempotency_key}#none", metadata_sha256="", device_id=sender.id or 0,
                class_name="", score=0, frames=1, first_time=meta.time, last_time=meta.time, best_time=meta.time,
                box=[], frame_sha256="", crop_sha256="", status="empty_frame",
            )]  # fmt: skip
        else:
            rows_to_store = rows
        s.add_all(rows_to_store)
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            again = frame_rows(s, sender.id or 0, idempotency_key)
            return [r for r in again if not r.idempotency_key.endswith("#none")]
        for row in rows:
            s.refresh(row)
            metrics.ingested.labels(class_name=row.class_name).inc()
        return rows

    def save_video_sighting(s: Session, job: VideoJob, sighting: Any, key: str) -> None:
        record_json = sighting.to_json()
        record = SightingIn.model_validate_json(record_json).model_copy(update={"model": served.current()[1]})
        save(s, job.device_id, key, record_json, record, Path(sighting.frame.path).read_bytes(),
             Path(sighting.crop.path).read_bytes())  # fmt: skip

    worker = VideoWorker(engine, server_detector, save_video_sighting, max_pixels=settings.max_image_pixels)

    @app.post("/api/v1/videos", status_code=202)
    def upload_video(
        s: Annotated[Session, Depends(session)],
        sender: Annotated[Device, Depends(device)],
        metadata: Annotated[str, Form(description='{"start_time": unix seconds of the first frame}')],
        video: Annotated[UploadFile, File(description="a video segment (mp4, avi, webm …)")],
        idempotency_key: Annotated[str, Header(max_length=200)],
        gps: Annotated[UploadFile | None, File(description="its GPS track: GPX, NMEA or CSV")] = None,
    ) -> dict[str, Any]:
        """Queue a video segment for inspection on the server; its sightings appear as the job runs."""
        mine = VideoJob.device_id == sender.id, VideoJob.idempotency_key == idempotency_key
        existing = s.exec(select(VideoJob).where(*mine)).first()
        if existing is not None:
            return {"job": existing.id, "status": existing.status}
        try:
            start = VideoIn.model_validate_json(metadata).start_time
        except ValidationError as error:
            raise HTTPException(422, error_details(error.errors())) from error
        try:
            upload = Upload(video.file.read(), video.filename or "")
            if gps is not None:
                upload = Upload(upload.video, upload.video_name, gps.file.read(), gps.filename or "track.gpx")
            kept = keep_upload(settings.data_dir / "videos", upload, settings.max_image_pixels)
        except UploadRefused as error:
            raise unprocessable(str(error)) from error
        job = VideoJob(
            idempotency_key=idempotency_key, device_id=sender.id or 0, video_sha256=kept.video_sha256,
            video_path=str(kept.video), gps_path=str(kept.track) if kept.track else None, start_time=start,
        )  # fmt: skip
        s.add(job)
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            job = s.exec(select(VideoJob).where(*mine)).one()
        worker.wake()
        return {"job": job.id, "status": job.status}

    @app.get("/api/v1/videos/{job_id}")
    def video_job(
        job_id: RowId, s: Annotated[Session, Depends(session)], sender: Annotated[Device, Depends(device)]
    ) -> Any:
        """A video job of the calling device (another device's is answered as if it did not exist)."""
        job = s.get(VideoJob, job_id)
        if job is None or job.device_id != sender.id:
            raise HTTPException(404, f"no video job {job_id}")
        return {"job": job.id, "status": job.status, "sightings": job.sightings, "error": job.error}

    @app.get("/api/v1/sightings/{sighting_id}", response_model=SightingPublic)
    def get_sighting(
        sighting_id: RowId, s: Annotated[Session, Depends(session)], sender: Annotated[Device, Depends(device)]
    ) -> Any:
        """A sighting the calling device sent (another device's is answered as if it did not exist)."""
        found = s.get(Sighting, sighting_id)
        if found is None or found.device_id != sender.id:
            raise HTTPException(404, f"no sighting {sighting_id}")
        return found

    app.include_router(ui_api.router)
    app.mount("/ui", StaticFiles(directory=ui_api.REVIEW_UI, html=True), name="review_ui")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return app


def open311_request(case: Case) -> dict[str, Any]:
    """A case as an Open311 GeoReport v2 service request."""
    classes = {c.name: c for c in load_taxonomy().classes}
    event = classes.get(case.class_name)
    return {
        "service_request_id": str(case.id),
        "status": "closed" if case.state in ("closed", "rejected") else "open",
        "status_notes": f"{case.state} ({STATES[case.state]})",
        "service_name": event.zh if event else case.class_name,
        "service_code": case.class_name,
        "agency_responsible": case.department,
        "requested_datetime": case.created.isoformat(),
        "updated_datetime": case.updated.isoformat(),
        "expected_datetime": case.deadline.isoformat(),
        "address": " ".join(p for p in (case.district, case.street) if p) or None,
        "lat": case.lat,
        "long": case.lon,
    }


def frame_rows(s: Session, device_id: int, idempotency_key: str) -> list[Sighting]:
    """The rows of one frame `device_id` posted: `<key>#<index>` per sighting, or `<key>#none` when it held none.

    Matched exactly (a prefix compared as a string, then the suffix checked), never with `LIKE`: a client's key
    may hold `%` or `_`, or end in `#1` so that another key is its prefix.
    """
    prefix = f"{idempotency_key}#"
    near = select(Sighting).where(
        Sighting.device_id == device_id, func.substr(col(Sighting.idempotency_key), 1, len(prefix)) == prefix
    )
    rows = s.exec(near).all()
    return [r for r in rows if (rest := r.idempotency_key[len(prefix) :]) == "none" or rest.isdecimal()]


def unprocessable(message: str, field: str = "body") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, so every 422 matches the documented schema."""
    return HTTPException(422, [{"loc": [field], "msg": message, "type": "value_error"}])


def canonical_digest(metadata: Any) -> str:
    """sha256 of a sighting's metadata in canonical JSON: a retry matches whether it came alone or in a batch."""
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _repeat(existing: Sighting, metadata_sha: str) -> Any:
    if existing.metadata_sha256 != metadata_sha:
        raise HTTPException(409, f"idempotency key {existing.idempotency_key!r} was used for a different sighting")
    return JSONResponse(json.loads(SightingPublic.model_validate(existing).model_dump_json()), 200)
