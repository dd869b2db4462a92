"""A newly promoted model reaches the server and the edge without a restart; a corrupt one never does."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inference_server.app import create_app
from inference_server.devices import add_device
from inference_server.settings import Settings
from models import versions
from models.registry import DEFAULT_MODEL, ModelFormat, current_model, model_card, model_file
from tests.conftest import REPO_ROOT
from vision.errors import ModelLoadError
from vision.model_updates import ModelUpdater, SwappableDetector
from vision.server_client import ServerClient

PHOTO = REPO_ROOT / "samples" / "images" / "garbage-cn__000053.jpg"
STARTER = f"{DEFAULT_MODEL}@{model_card(DEFAULT_MODEL)['version']}"


def _register(version: str) -> str:
    """A registry version with the starter's files (the swap is about the pointer, not the weights)."""
    files = {name: model_file(DEFAULT_MODEL, fmt) for name, fmt in (
        ("model.pt", ModelFormat.PYTORCH), ("model.onnx", ModelFormat.ONNX), ("model.int8.onnx", ModelFormat.ONNX_INT8),
    )}  # fmt: skip
    card = {"name": DEFAULT_MODEL, "version": version, "parent": STARTER, "status": "candidate"}
    versions.register(files, card)
    return f"{DEFAULT_MODEL}@{version}"


def _post_frame(http: TestClient, key: str, index: int) -> tuple[int, list[str]]:
    response = http.post(
        "/api/v1/frames",
        data={"metadata": json.dumps({"time": 1000.0 + index})},
        files={"image": ("f.jpg", PHOTO.read_bytes(), "image/jpeg")},
        headers={"X-API-Key": key, "Idempotency-Key": f"frame-{index}"},
    )
    return response.status_code, [s["model"] for s in response.json()] if response.status_code == 201 else []


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data")
    key = add_device(settings, "cam-1")
    with TestClient(create_app(settings)) as http:
        http.app.state.served.check_seconds = 0.0  # type: ignore[attr-defined]  # look at the pointer every request
        yield http, key


def test_the_server_swaps_models_under_load_without_a_failed_request(server) -> None:  # type: ignore[no-untyped-def]
    http, key = server
    new = _register("0.2.0-r1")
    results: list[tuple[int, list[str]]] = []
    lock = threading.Lock()

    def client(start: int) -> None:
        for i in range(start, start + 6):
            outcome = _post_frame(http, key, i)
            with lock:
                results.append(outcome)

    workers = [threading.Thread(target=client, args=(n * 100,)) for n in range(3)]
    for worker in workers:
        worker.start()
    while len(results) < 4:
        threading.Event().wait(0.05)
    versions.promote(new)  # while sightings arrive
    for worker in workers:
        worker.join()
    assert [code for code, _ in results] == [201] * 18
    models = {m for _, found in results for m in found}
    assert models == {STARTER, new}  # every sighting says which model produced it; both served
    assert _post_frame(http, key, 999)[1][0] == new


def test_a_corrupt_model_is_refused_and_the_old_one_keeps_serving(server) -> None:  # type: ignore[no-untyped-def]
    http, key = server
    assert _post_frame(http, key, 0)[1] == [STARTER] * len(_post_frame(http, key, 0)[1])
    bad = _register("0.2.0-r2")
    folder = versions.version_dir(bad)
    assert folder is not None
    onnx = folder / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:1000])  # truncated on disk
    with pytest.raises(ModelLoadError, match=r"sha256|corrupt"):
        versions.promote(bad)
    assert current_model() == DEFAULT_MODEL
    # even a pointer moved by hand does not get a corrupt model served
    versions.write_json_atomic(versions.registry_dir() / versions.CURRENT_FILE, {"reference": bad, "history": []})
    code, models = _post_frame(http, key, 1)
    assert code == 201 and set(models) == {STARTER}
    with TestClient(create_app(Settings(data_dir=Path(http.app.state.settings.data_dir)))) as fresh:  # type: ignore[attr-defined]
        code, models = _post_frame(fresh, key, 2)  # a server started on the corrupt pointer: the zoo default
        assert code == 201 and set(models) == {STARTER}


def test_the_edge_fetches_a_promoted_model_and_checks_its_checksum(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    http, key = server

    def fetch(url: str, headers: dict[str, str]) -> bytes:
        response = http.get(url, headers=headers)
        response.raise_for_status()
        return response.content

    updater = ModelUpdater(ServerClient("http://testserver", key), tmp_path / "edge", fetch=fetch)
    first = updater.check()
    assert first is not None and updater.reference == STARTER
    assert updater.check() is None  # nothing new
    new = _register("0.2.0-r3")
    versions.promote(new)
    path = updater.check()
    assert path is not None and updater.reference == new
    assert path.read_bytes() == model_file(new, ModelFormat.ONNX_INT8).read_bytes()

    tampered = ModelUpdater(
        ServerClient("http://testserver", key), tmp_path / "edge2", fetch=lambda u, h: _flip(fetch(u, h), u)
    )
    with pytest.raises(ModelLoadError, match="sha256"):
        tampered.check()
    assert not list((tmp_path / "edge2").glob("*.onnx"))


def _flip(data: bytes, url: str) -> bytes:
    return data if url.endswith("/current") else data[:-1] + bytes([data[-1] ^ 1])


def test_a_swappable_detector_changes_model_between_frames(onnx_detector, sample_images) -> None:  # type: ignore[no-untyped-def]
    from models.registry import load_detector

    starter = load_detector(DEFAULT_MODEL)
    swappable = SwappableDetector(starter)
    before = swappable.detect(sample_images[0])
    with pytest.raises(ModelLoadError):
        swappable.swap(onnx_detector)  # 80 COCO classes: not a drop-in replacement
    swappable.swap(load_detector(DEFAULT_MODEL, int8=True))
    assert swappable.class_names == starter.class_names and len(swappable.detect(sample_images[0])) >= 0
    assert before is not None


def test_a_registry_copy_is_never_overwritten() -> None:
    _register("0.2.0-r4")
    with pytest.raises(FileExistsError):
        _register("0.2.0-r4")
    shutil.rmtree(versions.registry_dir() / DEFAULT_MODEL)
