"""Scheduled backups of the embedded SQLite store: every [store] backup_every hours, the
newest [store] backup_keep kept in [store] backup_dir. The copy runs in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from .backup import BackupError, Counts, backup_name, backup_sqlite, rotate

log = logging.getLogger(__name__)
HOUR = 3600.0


class BackupSchedule:
    """Backs the SQLite store up at a fixed interval and keeps the newest `keep` copies."""

    def __init__(self, *, store_path: Path, directory: Path, every_s: float, keep: int) -> None:
        self.store_path, self.directory = store_path, directory
        self.every_s, self.keep = every_s, keep
        self.timeout_s = max(600.0, every_s)  # a copy that takes longer is reported
        self.made = 0  # backups written since start
        self.failed = 0
        self.last: Path | None = None
        self._lock = asyncio.Lock()  # one copy at a time (the schedule and "back up now")
        self._task: asyncio.Task[None] | None = None

    async def backup_now(self) -> tuple[Path, Counts]:
        """Write one backup now and rotate; BackupError if it could not be made."""
        async with self._lock:
            dest = self.directory / backup_name("sqlite")
            try:
                counts = await asyncio.wait_for(
                    asyncio.to_thread(backup_sqlite, self.store_path, dest), self.timeout_s
                )
            except TimeoutError as exc:
                raise BackupError(f"backup to {dest} took over {self.timeout_s:g} s") from exc
            await asyncio.to_thread(rotate, self.directory, self.keep)
            self.made += 1
            self.last = dest
            return dest, counts

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                dest, counts = await self.backup_now()
            except (BackupError, OSError) as exc:
                self.failed += 1
                log.error("scheduled backup failed (the store is unchanged): %s", exc)
                continue
            log.info("backup %s: %s", dest, counts)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="store-backup")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def backup_schedule(config: dict[str, Any]) -> BackupSchedule | None:
    """The schedule [store] asks for, or None (backup_every = 0)."""
    store = config["store"]
    if not store["backup_every"]:
        return None
    return BackupSchedule(
        store_path=Path(store["path"]),
        directory=Path(store["backup_dir"]),
        every_s=store["backup_every"] * HOUR,
        keep=store["backup_keep"],
    )
