"""Pictures and documents scripts and user actions name: files of the hub's
`<config_dir>/pictures` and `<config_dir>/documents` (by file name only, never a path), or
a plot of `{label: (xs, ys)}` drawn by the bot's renderer. Files are read in a worker
thread and refused when bigger than Telegram takes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

from .plots import Renderer, Series

MAX_PICTURE_BYTES = 10 * 1024 * 1024  # the Bot API's limits for uploaded photos
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # and documents


class OperatorFiles:
    """Where named pictures and documents are, and how a picture is made."""

    def __init__(self, *, pictures_dir: Path, documents_dir: Path, renderer: Renderer) -> None:
        self.pictures_dir = pictures_dir
        self.documents_dir = documents_dir
        self.renderer = renderer

    def picture_path(self, name: str) -> Path:
        """The picture file `name`; ValueError when there is none or it is too large."""
        path = self.pictures_dir / name
        if not _is_file_in(path, self.pictures_dir):
            raise ValueError(f"no picture {name!r} in {self.pictures_dir}")
        if path.stat().st_size > MAX_PICTURE_BYTES:
            raise ValueError(f"picture {name!r} is larger than 10 MB")
        return path

    def document_path(self, name: str) -> Path:
        """The document file `name`; ValueError when there is none or it is too large."""
        path = self.documents_dir / name
        if not _is_file_in(path, self.documents_dir):
            raise ValueError(f"no document {name!r} in {self.documents_dir}")
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise ValueError(f"document {name!r} is larger than 50 MB")
        return path

    async def read(self, path: Path) -> bytes:
        """The file's bytes, read off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, path.read_bytes)

    async def plot(self, curves: dict[str, Any]) -> bytes:
        """A PNG of `{label: (xs, ys)}` (checked by the engine: finite, equal lengths)."""
        series = [
            Series(key=label, unit="", x=np.asarray(xy[0], float), y=np.asarray(xy[1], float))
            for label, xy in curves.items()
        ]
        return (await self.renderer.plot(series, [])).png

    async def picture(self, spec: str | dict[str, Any]) -> bytes:
        """A picture by file name, or a plot of `{label: (xs, ys)}`; ValueError, BusyError."""
        if isinstance(spec, str):
            return await self.read(self.picture_path(spec))
        return await self.plot(spec)


def _is_file_in(path: Path, folder: Path) -> bool:
    return path.parent == folder and path.is_file()
