"""Project exceptions: what went wrong, said in terms a user can act on."""

from __future__ import annotations


class StreetWatchError(Exception):
    """Base class of every error StreetWatch raises on purpose."""


class ImageError(StreetWatchError):
    """An image file or array that cannot be used: missing, empty, not an image, too large."""


class ModelLoadError(StreetWatchError):
    """A model file that cannot be loaded: missing, corrupt, or without the metadata we need."""
