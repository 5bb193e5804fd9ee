"""RTOC's `logger` request keys (§2.5.5): clear, resize, info, global samplerate; the
server-side file writers and reboot are refused with a reason."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any

from hub.permission import Permission

from . import language_req, tables_req
from .automation import AutomationRequests
from .jsonfast import FloatArray, dumps
from .session import ClientSession
from .signals_req import session_json
from .state import RequestError, ServerState

MAX_RECORD_LENGTH = 10_000_000
SECRET_WORDS = ("password", "token", "secret", "dsn", "username", "key")
REFUSED = {
    "reboot": "rebooting the hub is not offered remotely",
    "postgresql": "the store is set in the hub's config file",
    "tcp": "the TCP jsonsocket server does not exist here",
    "telegram": "Telegram is set in the hub's config file",
}
# The permission each key needs; every other key needs write.
KEY_NEEDS = {
    "info": Permission.READ,
    "settings": Permission.READ,
    "exportTable": Permission.READ,
    "delete": Permission.ADMIN,
    "language": Permission.READ,
}


def reduced_config(config: Any) -> Any:
    """The hub config without secrets (passwords, tokens, DSNs, user names, keys)."""
    if isinstance(config, dict):
        return {
            k: reduced_config(v)
            for k, v in config.items()
            if not any(w in str(k).lower() for w in SECRET_WORDS)
        }
    return copy.deepcopy(config)


class LoggerRequests:
    """Answers the `logger` object key by key, in the order given."""

    def __init__(self, *, state: ServerState, automation: AutomationRequests) -> None:
        self.st = state
        self.automation = automation

    async def request(self, s: ClientSession, value: Any) -> dict[str, Any]:
        """Each key's value replaced by its result; write keys need write permission."""
        if not isinstance(value, dict):
            raise RequestError('logger takes an object, e.g. {"info": true}')
        out: dict[str, Any] = {}
        for key, arg in value.items():
            need = KEY_NEEDS.get(key, Permission.WRITE)
            if not s.may(need):
                self.st.stats["refused_permission"] += 1
                raise RequestError(
                    f"permission: logger.{key} needs {need}, client has {s.permission}"
                )
            if key == "language":  # the asking user's own choice
                out[key] = await language_req.language(self.st, s, arg)
                continue
            out[key] = await self._one(key, arg)
        return out

    async def _one(self, key: str, arg: Any) -> Any:
        service = self.st.service
        if key == "info":
            return self.info()
        if key == "clear":
            if arg == "all":
                service.clear_signals()
                self.st.events.clear()
                return "all"
            if arg == "events":
                self.st.events.clear()
                return "events"
            if isinstance(arg, list):
                return [None if service.remove_signal(str(k)) else False for k in arg]
            raise RequestError('logger.clear takes "all", "events" or ["Dev.Sig", …]')
        if key == "resize":
            if (
                isinstance(arg, bool)
                or not isinstance(arg, int)
                or not 1 <= arg <= MAX_RECORD_LENGTH
            ):
                raise RequestError(f"logger.resize takes an integer 1..{MAX_RECORD_LENGTH}")
            service.resize(arg)
            return True
        if key == "global":
            if not isinstance(arg, dict) or "samplerate" not in arg:
                raise RequestError('logger.global takes {"samplerate": n}')
            try:
                answers = await service.set_samplerate(arg["samplerate"])
            except ValueError as exc:
                raise RequestError(f"logger.global.samplerate: {exc}") from None
            return {"samplerate": {d: True if r.ok else r.error for d, r in answers.items()}}
        if key == "export":
            return await self._export(arg)
        if key == "exportTable":
            return await tables_req.export_table(self.st, arg)
        if key == "importTable":
            return await tables_req.import_upload(self.st, arg)
        if key == "delete":
            return await tables_req.delete(self.st, arg)
        if key == "settings":
            return tables_req.settings(self.st)
        if key == "backup":
            if isinstance(arg, dict) and arg.get("now"):
                name = time.strftime("RTOC_%d_%m_%Hh%Mm%Ss.json", time.localtime(self.st.clock()))
                return await self._export([name, "json"], folder="backup")
            return {"error": "backups are the store's job; only {'now': true} writes a file"}
        if key in REFUSED:
            return {"error": REFUSED[key]}
        return {"error": f"unknown logger key {key!r}"}

    def _folder(self, name: str) -> Path:
        base = self.st.service.config["hub"].get("data_dir")
        if not base:
            raise RequestError("the hub has no data_dir to write files into")
        return Path(base) / name

    async def _export(self, arg: Any, folder: str = "exports") -> Any:
        """Write the session as JSON, or RTOC's CSV, into <data_dir>/<folder>/ (name only)."""
        if not isinstance(arg, list) or not arg or not isinstance(arg[0], str):
            raise RequestError("logger.export takes [filename, filetype]")
        kind = arg[1] if len(arg) > 1 and isinstance(arg[1], str) else "csv"
        name = Path(arg[0]).name  # never a path: files stay in the export folder
        if not name or name.startswith("."):
            raise RequestError(f"logger.export: bad file name {arg[0]!r}")
        session = session_json(self.st)
        target = self._folder(folder) / name
        await asyncio.to_thread(_write_export, target, session, kind)
        return True

    def info(self) -> dict[str, Any]:
        """Counts, start time, memory of the live store, the reduced config, user actions."""
        service = self.st.service
        n = len(service.signals)
        used = sum(len(sig.buffer) for sig in service.signals) * 16
        limit = n * service.signals.record_length * 16
        cfg = reduced_config(service.config)
        cfg["memory"] = {"usedL": used, "totalL": limit, "freeL": max(0, limit - used)}
        status = service.status()
        return {
            "signals": n,
            "starttime": service.started_at,
            "signal_memory": used,
            "signal_memory_limit": limit,
            "config": cfg,
            "userActions": self.automation.user_action_names(),
            "hub": status,
        }


def _write_export(target: Path, session: dict[str, Any], kind: str) -> None:
    """JSON: the session document; CSV: RTOC's rows (xs then ys per signal) plus a .txt index."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise RequestError(f"logger.export: {target.name} exists; choose another name")
    devices = session["devices"]
    if kind == "xlsx":  # the export layout of hub/export.py, one row per sample
        from ..export import TableError, table_from_session, write_table

        try:
            write_table(table_from_session(session), target.with_suffix(".xlsx"))
        except TableError as exc:
            raise RequestError(f"logger.export: {exc}") from exc
        return
    if kind == "json":
        target.write_text(json.dumps(json.loads(dumps(session)), indent=4))
        return
    rows, names = [], []
    for sig in session["signals"].values():
        dev_id, sname, xs, ys, _unit = sig
        key = f"{devices[str(dev_id)]}.{sname}"
        for label, arr in (("X", xs), ("Y", ys)):
            values = arr.tolist() if isinstance(arr, FloatArray) else arr
            rows.append(" ".join(repr(v) for v in values))
            names.append(f"{key} {label}")
    target.write_text("\n".join(rows) + "\n")
    target.with_suffix(".txt").write_text("\n".join(names) + "\n")
