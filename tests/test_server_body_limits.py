"""Request bodies over the limit (issue 19, row 2) against a real server: a chunked body without Content-Length is
refused with 413 as soon as it passes the limit, not after it has all been read."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from inference_server.devices import add_device
from inference_server.settings import Settings
from tests.ui_world import running_server

LIMIT = 1024 * 1024


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, str]]:
    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=LIMIT)
    key = add_device(settings, "car-1", "patrol_car")
    with running_server(settings) as base:
        yield int(urlsplit(base).port or 0), key


def _send_chunked(port: int, path: str, headers: dict[str, str], total: int) -> tuple[str, int]:
    """POST up to `total` bytes of chunked body, stopping when the server answers; its status line and how many
    bytes were sent by then."""
    part = b'--x\r\nContent-Disposition: form-data; name="frame"; filename="f.jpg"\r\n\r\n'
    chunk = b"y" * (64 * 1024)  # one file part that never ends
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n{head}\r\n".encode())
        connection.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        while sent < total and not select.select([connection], [], [], 0)[0]:
            try:
                connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = connection.recv(4096)
    return answer.split(b"\r\n", 1)[0].decode(), sent


@pytest.mark.parametrize("path", ["/api/v1/sightings", "/api/v1/sightings/batch", "/api/v1/frames"])
def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(served: tuple[int, str], path: str) -> None:
    port, key = served
    headers = {"X-API-Key": key, "Idempotency-Key": "k1", "Content-Type": "multipart/form-data; boundary=x"}
    status, sent = _send_chunked(port, path, headers, total=200 * 1024 * 1024)
    assert status.endswith("413 Request Entity Too Large") or " 413 " in status, status
    assert sent < 8 * LIMIT  # the answer came while the body was still coming, not after 200 MB


@pytest.mark.parametrize("key", [None, "not-a-device-key"])
@pytest.mark.parametrize("path", ["/api/v1/sightings", "/api/v1/sightings/batch", "/api/v1/frames", "/api/v1/videos"])
def test_an_upload_without_a_valid_device_key_is_refused_before_its_body(
    served: tuple[int, str], path: str, key: str | None
) -> None:
    """Issue 19, row 3: a 2 GB body without credentials was spooled to disk before the 401."""
    port, _ = served
    headers = {"Idempotency-Key": "k1", "Content-Type": "multipart/form-data; boundary=x"}
    if key is not None:
        headers["X-API-Key"] = key
    status, sent = _send_chunked(port, path, headers, total=200 * 1024 * 1024)
    assert " 401 " in status, status  # not 413: had the server read the body, it would have passed the limit first
    assert sent < 8 * LIMIT  # answered while the body was still coming (what was sent sits in socket buffers)


@pytest.mark.parametrize(
    "credentials",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Cookie": "sw_session=not-a-session"}, {"X-API-Key": "a-device"}],
    ids=["none", "bearer", "cookie", "device-key"],
)
@pytest.mark.parametrize("path", ["/api/v1/cases/1/photos", "/api/v1/sightings/1/decision", "/api/v1/ui/review/undo"])
def test_a_body_for_people_without_a_live_session_is_refused_before_it_is_read(
    served: tuple[int, str], path: str, credentials: dict[str, str]
) -> None:
    """Issue 19, row 3, on the routes for people: a case photo's multipart body was parsed before the 401."""
    port, key = served
    headers = {"Content-Type": "multipart/form-data; boundary=x", **credentials}
    if "X-API-Key" in headers:
        headers["X-API-Key"] = key  # a valid device key is not a person's sign-in
    status, sent = _send_chunked(port, path, headers, total=200 * 1024 * 1024)
    assert " 401 " in status, status
    assert sent < 8 * LIMIT
