"""One place for where a device's requests go (issue 20, item 5): the base URL, the key, every path."""

from __future__ import annotations

import logging

import pytest

from vision.server_client import ServerClient


@pytest.mark.parametrize(
    "given",
    ["http://host:8000", "http://host:8000/", " http://host:8000 "],
)
def test_the_base_url_gives_every_path(given: str) -> None:
    client = ServerClient.from_option(given, "k")
    assert client.sightings == "http://host:8000/api/v1/sightings"
    assert client.sightings_batch == "http://host:8000/api/v1/sightings/batch"
    assert client.run("car 7/drive#1") == "http://host:8000/api/v1/runs/car%207%2Fdrive%231"
    assert client.current_model == "http://host:8000/api/v1/models/current"
    assert client.model_file("streetwatch-starter@0.2.1", "model.int8.onnx") == (
        "http://host:8000/api/v1/models/streetwatch-starter@0.2.1/files/model.int8.onnx"
    )
    assert client.headers == {"X-API-Key": "k"}


@pytest.mark.parametrize(
    ("given", "base"),
    [("http://host:8000/api/v1/sightings", "http://host:8000"), ("https://city.example/sw/api/v1", "https://city.example/sw"),
     ("http://host:8000/api/v1/sightings/batch/", "http://host:8000")],
)  # fmt: skip
def test_the_old_sightings_url_is_taken_with_a_warning(given: str, base: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        client = ServerClient.from_option(given)
    assert client.base_url == base and client.sightings == f"{base}/api/v1/sightings"
    assert f"base URL now: {base}" in caplog.text


@pytest.mark.parametrize("bad", ["host:8000", "ftp://host", "http://", "http://host/?x=1", "http://host/#top"])
def test_what_is_not_a_base_url_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        ServerClient.from_option(bad)
