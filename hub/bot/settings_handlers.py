"""Settings → General (record length, global sample rate), Settings → Backup (back up now,
list, download) and deleting signals and events: a mixin of BotCore.

Who may press these is decided by handlers.ROUTES: General for write, Backup and Delete
for admin. Deleting removes signals and events for good: from the live view and from the
store (through the writer's queue, after what was queued before; a running driver's
signal comes back as a new one with its next sample).
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

from hub.backup import BackupError
from hub.backup_schedule import BackupSchedule
from hub.db.base import StoreError
from hub.service import HubService

from . import menus
from .ui import Awaiting, Button, Reply, Session
from .users import Permission, User

MAX_RECORD_LENGTH = 10_000_000
MAX_DOCUMENT = 50_000_000  # the Bot API's upload limit for documents
LISTED_BACKUPS = 10


def _rows(buttons: list[Button]) -> list[list[Button]]:
    return [[b] for b in buttons]


class SettingsHandlers:
    """Mixed into BotCore, which provides the hub service."""

    service: HubService
    _backup_writer: BackupSchedule | None = None

    # ---- General ---------------------------------------------------------------------
    def _general(self, note: str = "") -> Reply:
        info = menus.general_info(self.service)
        b = [
            Button(f"Record length ({self.service.signals.record_length})", "grl"),
            Button("Global sample rate", "gsr"),
            Button(menus.BACK, "set"),
        ]
        return Reply((html.escape(note) + "\n" if note else "") + info.text, _rows(b))

    async def _on_gen(self, user: User, perm: Permission, session: Session) -> Reply:
        return self._general()

    async def _on_grl(self, user: User, perm: Permission, session: Session) -> Reply:
        session.awaiting = Awaiting("grl")
        return Reply(
            f"Send the record length: how many samples each signal keeps live "
            f"(now {self.service.signals.record_length}, 1 to {MAX_RECORD_LENGTH}).",
            [[Button(menus.BACK, "gen")]],
        )

    async def _on_gsr(self, user: User, perm: Permission, session: Session) -> Reply:
        session.awaiting = Awaiting("gsr")
        return Reply(
            "Send the sample rate (samples per second) for every device.",
            [[Button(menus.BACK, "gen")]],
        )

    async def _text_grl(self, user: User, perm: Permission, session: Session, text: str) -> Reply:
        try:
            n = int(text.strip())
        except ValueError:
            raise ValueError(f"{text.strip()} is not a whole number") from None
        if not 1 <= n <= MAX_RECORD_LENGTH:
            raise ValueError(f"the record length is 1 to {MAX_RECORD_LENGTH}")
        self.service.resize(n)
        session.awaiting = None
        return self._general(f"Record length set to {n}.")

    async def _text_gsr(self, user: User, perm: Permission, session: Session, text: str) -> Reply:
        try:
            rate = float(text.strip())
        except ValueError:
            raise ValueError(f"{text.strip()} is not a number") from None
        if not 0 < rate < float("inf"):
            raise ValueError("the sample rate must be a positive number")
        session.awaiting = None
        answers = await self.service.set_samplerate(rate)
        results = [f"{d}: {'done' if r.ok else r.error or 'failed'}" for d, r in answers.items()]
        return self._general(f"Sample rate {rate:g}: " + ("; ".join(results) or "no devices"))

    # ---- Backup ----------------------------------------------------------------------
    def _backup_dir(self) -> Path:
        cfg = self.service.config
        store, hub_cfg = cfg.get("store", {}), cfg.get("hub", {})
        if store.get("backup_dir"):
            return Path(store["backup_dir"])
        return Path(hub_cfg.get("data_dir", ".")) / "backups"

    def _backups(self) -> list[Path]:
        found = sorted(self._backup_dir().glob("opencontrol-*Z.*"), reverse=True)
        return [p for p in found if p.suffix in (".sqlite", ".dump")]

    def _schedule(self) -> BackupSchedule | None:
        """The bot's own backup writer for the SQLite store (None for PostgreSQL)."""
        if self._backup_writer is None:
            store = self.service.config.get("store", {})
            if store.get("kind", "sqlite") != "sqlite" or not store.get("path"):
                return None
            self._backup_writer = BackupSchedule(
                store_path=Path(store["path"]),
                directory=self._backup_dir(),
                every_s=0.0,
                keep=int(store.get("backup_keep", 7)),
            )
        return self._backup_writer

    def _backup_menu(self, session: Session, note: str = "") -> Reply:
        found = self._backups()
        b = [Button("Back up now", "bkn")]
        b += [Button(f"⬇ {p.name}", session.encode("bkd", p.name)) for p in found[:LISTED_BACKUPS]]
        b.append(Button(menus.BACK, "set"))
        lines = [note] if note else []
        lines.append(
            f"{len(found)} backups in {self._backup_dir()}" if found else "No backups yet."
        )
        return Reply(html.escape("\n".join(lines)), _rows(b))

    async def _on_bk(self, user: User, perm: Permission, session: Session) -> Reply:
        return self._backup_menu(session)

    async def _on_bkn(self, user: User, perm: Permission, session: Session) -> Reply:
        sched = self._schedule()
        if sched is None:
            return self._backup_menu(
                session, "This hub's store is PostgreSQL: back it up with `opencontrol backup`."
            )
        try:
            dest, counts = await sched.backup_now()
        except (BackupError, OSError) as exc:
            return self._backup_menu(session, f"The backup failed: {exc}")
        return self._backup_menu(session, f"Backed up: {dest.name} ({counts})")

    async def _on_bkd(self, user: User, perm: Permission, session: Session, name: str) -> Reply:
        path = next((p for p in self._backups() if p.name == name), None)
        if path is None:
            return self._backup_menu(session, f"{name} is gone.")
        size = path.stat().st_size
        if size > MAX_DOCUMENT:
            return self._backup_menu(
                session, f"{name} has {size} bytes, more than Telegram takes; copy it from the hub."
            )
        data = await asyncio.to_thread(path.read_bytes)
        return Reply(html.escape(f"{name}, {size} bytes"), document=(name, data))

    # ---- Delete ----------------------------------------------------------------------
    def _delete_menu(self, session: Session, note: str = "") -> Reply:
        sigs = sorted(self.service.signals, key=lambda s: s.key)[: menus.MAX_SIGNAL_BUTTONS]
        b = [Button(f"✕ {s.key}", session.encode("dls", str(s.id))) for s in sigs]
        b += [Button("✕ All events", "dle"), Button(menus.BACK, "set")]
        head = (html.escape(note) + "\n") if note else ""
        return Reply(
            head + "Delete a signal or the events, with their stored history.",
            _rows(b),
        )

    async def _on_del(self, user: User, perm: Permission, session: Session) -> Reply:
        return self._delete_menu(session)

    async def _on_dls(self, user: User, perm: Permission, session: Session, sig_id: str) -> Reply:
        try:
            key = self.service.signals.by_id(int(sig_id)).key
        except (KeyError, ValueError):
            return self._delete_menu(session, "That signal is gone.")
        return Reply(
            html.escape(f"Delete {key}?"),
            [
                [Button(f"Yes, delete {key}", session.encode("dlsy", sig_id))],
                [Button("Cancel", "del")],
            ],
        )

    async def _on_dlsy(self, user: User, perm: Permission, session: Session, sig_id: str) -> Reply:
        try:
            key = self.service.signals.by_id(int(sig_id)).key
        except (KeyError, ValueError):
            return self._delete_menu(session, "That signal is gone.")
        try:
            await self.service.delete_signals([key])
        except (StoreError, TimeoutError) as exc:
            return self._delete_menu(
                session,
                f"{key} is gone from the live view; the store will delete it later ({exc}).",
            )
        finally:
            if key in session.selected:
                session.selected.remove(key)
        return self._delete_menu(session, f"{key} deleted.")

    async def _on_dle(self, user: User, perm: Permission, session: Session) -> Reply:
        return Reply(
            "Delete all events, stored ones too?",
            [[Button("Yes, delete all events", "dley")], [Button("Cancel", "del")]],
        )

    async def _on_dley(self, user: User, perm: Permission, session: Session) -> Reply:
        try:
            n = await self.service.delete_events(None)
        except (StoreError, TimeoutError) as exc:
            return self._delete_menu(
                session,
                f"Events gone from the live view; the store will delete them later ({exc}).",
            )
        return self._delete_menu(session, f"{n} events deleted.")
