"""Live hubs keep the automation another hub changed: PostgreSQL tells every change of a
document (LISTEN/NOTIFY, sql/006_document_notify.sql) and the engine takes the new
definitions in, keeping the edge states and script globals of those that did not change.

Users need nothing of this: the websocket reads them from the store at each login, and
the Telegram bot runs on the leader only, which reads them when it starts.
"""

from __future__ import annotations

import asyncio
import logging
import select
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .engine.engine import (
    DOC_ACTIONS,
    DOC_EVENTS,
    DOC_SCRIPTS,
    DOC_SETTINGS,
    DOC_USER_ACTIONS,
    DOCS,
    Engine,
)
from .engine.rtoc_import import action_from_rtoc, event_from_rtoc

if TYPE_CHECKING:
    from .app import Hub

log = logging.getLogger(__name__)

CHANNEL = "opencontrol_docs"


class DocWatch:
    """LISTEN on `opencontrol_docs` in a thread of its own; `on_change(key)` runs on the
    loop for each changed document, and `on_change("*")` after every (re)connection
    (changes may have been missed meanwhile)."""

    def __init__(self, *, dsn: str, on_change: Callable[[str], Any]) -> None:
        self.dsn = dsn
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start listening (call on the hub's loop)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="doc-watch", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop listening (within a second)."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)

    def _tell(self, key: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.on_change, key)

    def _run(self) -> None:
        import psycopg2

        failed = False
        while not self._stop.is_set():
            try:
                conn = psycopg2.connect(self.dsn, connect_timeout=5, application_name="oc-docs")
            except psycopg2.Error as exc:
                if not failed:
                    log.warning("document changes: cannot listen (%s); retrying", exc)
                failed = True
                self._stop.wait(1.0)
                continue
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}")
                if failed:
                    log.info("document changes: listening again")
                failed = False
                self._tell("*")
                while not self._stop.is_set():
                    if select.select([conn], [], [], 0.5)[0]:
                        conn.poll()
                        while conn.notifies:
                            self._tell(conn.notifies.pop(0).payload)
            except psycopg2.Error as exc:
                if not failed:
                    log.warning("document changes: connection lost (%s); listening again", exc)
                failed = True
                self._stop.wait(1.0)
            finally:
                conn.close()


def apply_automation(engine: Engine, docs: dict[str, Any]) -> list[str]:
    """Make the engine's definitions those of `docs`: changed ones set, missing ones
    removed, unchanged ones kept with their state. Returns the entries that failed."""
    errors: list[str] = []
    events = docs.get(DOC_EVENTS) or {}
    for name in [n for n in engine.events.events if n not in events]:
        engine.events.remove(name)
    for name, d in events.items():
        try:
            defn = event_from_rtoc(name, d)
            old = engine.events.events.get(name)
            if old is None or old.defn != defn:
                engine.events.set(defn)
        except Exception as exc:
            errors.append(f"event {name}: {exc}")
    actions = docs.get(DOC_ACTIONS) or {}
    for name in [n for n in engine.actions.actions if n not in actions]:
        engine.actions.remove(name)
    for name, d in actions.items():
        try:
            action = action_from_rtoc(name, d)
            old_action = engine.actions.actions.get(name)
            if old_action is None or old_action.defn != action:
                engine.actions.set(action)
        except Exception as exc:
            errors.append(f"action {name}: {exc}")
    user_actions = docs.get(DOC_USER_ACTIONS) or {}
    for name in [n for n in engine.user_actions if n not in user_actions]:
        engine.user_actions.pop(name, None)
    for name, src in user_actions.items():
        if engine.user_actions.get(name) != src:
            try:
                engine.set_user_action(name, src)
            except Exception as exc:
                errors.append(f"user action {name}: {exc}")
    errors += _apply_scripts(engine, docs.get(DOC_SCRIPTS) or {})
    settings = docs.get(DOC_SETTINGS) or {}
    engine.events_active = bool(settings.get("events", engine.events_active))
    engine.actions_active = bool(settings.get("actions", engine.actions_active))
    return errors


def _apply_scripts(engine: Engine, doc: dict[str, Any]) -> list[str]:
    scripts = engine.scripts
    now = scripts.dump()  # sandboxed jobs only: operator files come from the config
    for name in [n for n in now if n not in doc]:
        scripts.remove(name)
    changed = {n: d for n, d in doc.items() if now.get(n) != d}
    return scripts.load(changed)


def sync_automation(hub: Hub, engine: Engine) -> DocWatch:
    """Keep a live hub's engine on the stored automation; stop with `await .stop()`."""
    store = hub.store
    state: dict[str, Any] = {"task": None, "again": False}

    async def reload() -> None:
        while True:
            state["again"] = False
            try:
                docs = await hub.run_store(lambda: {k: store.get_doc(k) for k in DOCS})
            except Exception as exc:  # the store is down: the next notice tries again
                log.warning("automation not reloaded: %s", exc)
                return
            for problem in apply_automation(engine, docs):
                log.warning("automation from the store: %s", problem)
            if not state["again"]:
                return

    def changed(key: str) -> None:
        if key != "*" and key not in DOCS:
            return
        task = state["task"]
        if task is not None and not task.done():
            state["again"] = True  # read once more when this read is done
            return
        state["task"] = asyncio.get_running_loop().create_task(reload(), name="automation")

    watch = DocWatch(dsn=hub.config["store"]["dsn"], on_change=changed)
    watch.start()
    return watch
