"""Video segments devices upload: kept and queued for the server's `VideoWorker`; the device polls its job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, HTTPException, UploadFile
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from inference_server.deps import AppSettings, DbSession, RowId, Sender, Worker, get_or_404
from inference_server.tables import VideoJob
from inference_server.videos import Upload, UploadRefused, keep_upload
from inference_server.wire import error_details, unprocessable
from vision.wire import UnixTime

router = APIRouter(prefix="/api/v1/videos", tags=["ingest"])


class VideoIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    start_time: UnixTime = Field(description="Unix seconds of the video's first frame")


class JobQueuedOut(BaseModel):
    job: int | None
    status: str = Field(description="queued, running, done or failed")


class JobOut(JobQueuedOut):
    sightings: int = Field(description="sightings stored so far")
    error: str | None


@router.post("", status_code=202)
def upload_video(
    s: DbSession,
    sender: Sender,
    settings: AppSettings,
    worker: Worker,
    metadata: Annotated[str, Form(description='{"start_time": unix seconds of the first frame}')],
    video: Annotated[UploadFile, File(description="a video segment (mp4, avi, webm …)")],
    idempotency_key: Annotated[str, Header(max_length=200)],
    gps: Annotated[UploadFile | None, File(description="its GPS track: GPX, NMEA or CSV")] = None,
) -> JobQueuedOut:
    """Queue a video segment for inspection on the server; its sightings appear as the job runs."""
    mine = VideoJob.device_id == sender.id, VideoJob.idempotency_key == idempotency_key
    existing = s.exec(select(VideoJob).where(*mine)).first()
    if existing is not None:
        return JobQueuedOut(job=existing.id, status=existing.status)
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
    return JobQueuedOut(job=job.id, status=job.status)


@router.get("/{job_id}")
def video_job(job_id: RowId, s: DbSession, sender: Sender) -> JobOut:
    """A video job of the calling device (another device's is answered as if it did not exist)."""
    job = get_or_404(s, VideoJob, job_id, "video job")
    if job.device_id != sender.id:
        raise HTTPException(404, f"no video job {job_id}")
    return JobOut(job=job.id, status=job.status, sightings=job.sightings, error=job.error)
