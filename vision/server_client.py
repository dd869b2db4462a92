"""Where a device's requests go: the server's base URL, the device key and every path the edge uses, in one place.

The edge, `streetwatch inspect --server` and the model updater used to derive the server's address three ways from
a sighting URL (`…/api/v1/sightings`, cut at `/api/`, `removesuffix("/sightings")`). A `ServerClient` is made once
from what the operator typed and hands out the URLs and headers; the older form of `--server` (the sightings URL)
is still accepted, with a warning that says what to type instead.
"""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass

logger = logging.getLogger(__name__)
API = "/api/v1"


@dataclass(frozen=True)
class ServerClient:
    """The server as a device sees it: `base_url` (scheme, host, port and any path prefix, without `/api/v1`)."""

    base_url: str
    api_key: str = ""

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the server's base URL must be http(s)://host[:port], got {self.base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"the server's base URL takes no query or fragment, got {self.base_url!r}")

    @classmethod
    def from_option(cls, server: str, api_key: str = "") -> ServerClient:
        """The client for a `--server` value: a base URL, or (older form, warned) a URL ending in `/api/v1/...`."""
        text = server.strip().rstrip("/")
        prefix, marker, _ = text.partition(API + "/")
        if marker or text.endswith(API):
            base = prefix if marker else text.removesuffix(API)
            logger.warning("--server takes the server's base URL now: %s (not %s)", base, server)
            text = base
        return cls(text, api_key)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}

    def url(self, path: str) -> str:
        """`base_url` + `/api/v1/` + `path` (its segments as given: quote what comes from outside)."""
        return f"{self.base_url}{API}/{path.lstrip('/')}"

    @property
    def sightings(self) -> str:
        return self.url("sightings")

    @property
    def sightings_batch(self) -> str:
        return self.url("sightings/batch")

    def run(self, key: str) -> str:
        return self.url(f"runs/{urllib.parse.quote(key, safe='')}")

    @property
    def current_model(self) -> str:
        return self.url("models/current")

    def model_file(self, reference: str, file: str) -> str:
        return self.url(f"models/{urllib.parse.quote(reference, safe='@')}/files/{urllib.parse.quote(file)}")
