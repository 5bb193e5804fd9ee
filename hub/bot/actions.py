"""Custom actions the operator defines in the config directory (`telegram_actions.toml`).

RTOC ran `telegramActions.json` scripts as Python for anyone, blocked users included.
Here an action is data: a reply text with `{Device.Signal}` placeholders filled with
latest values, and/or one device command; each has a minimum permission (labels starting
with `_` are admin-only, as in RTOC), checked for the user who pressed it.

```toml
[[action]]
label = "Heating on"
permission = "write"
command = { device = "Heater", op = "set", name = "target", args = 21.0 }
reply = "Heating set; room is {Room.Temperature}"

[[action]]
label = "Room today"
permission = "read"
plot = ["Room.Temperature"]   # answers with a graph (PNG) of the last plot_hours
plot_hours = 24

[[action]]
label = "Manual"
document = "manual.pdf"       # a file next to telegram_actions.toml, sent as a document
# picture = "plan.png"        # or sent as a picture
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.config_schema import ConfigError

from .users import Permission

FILENAME = "telegram_actions.toml"
OPS = ("set", "get", "call", "start", "stop", "samplerate")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)\}")
_KEYS = {"label", "permission", "reply", "command", "picture", "document", "plot", "plot_hours"}
_ANSWERS = ("picture", "document", "plot")  # at most one per action
MAX_PICTURE = 10_000_000  # the Bot API's limits for uploaded photos and documents
MAX_DOCUMENT = 50_000_000
_CMD_KEYS = {"device", "op", "name", "args"}


@dataclass(frozen=True)
class CustomAction:
    """One operator-defined button."""

    label: str
    permission: Permission
    reply: str = ""
    command: dict[str, Any] | None = None
    picture: Path | None = None  # a file sent as a photo
    document: Path | None = None  # a file sent as a document
    plot: tuple[str, ...] = ()  # signals drawn as a graph of the last plot_hours
    plot_hours: float = 24.0

    def allowed(self, perm: Permission) -> bool:
        """True when a user acting with `perm` may see and run this action."""
        return perm >= self.permission and perm > Permission.BLOCKED


def fill_placeholders(text: str, latest: Any) -> str:
    """Replace `{Device.Signal}` with the signal's latest value (never str.format)."""

    def sub(m: re.Match[str]) -> str:
        v = latest(m.group(1))
        return "n/a" if v is None else f"{v:.4g}"

    return _PLACEHOLDER.sub(sub, text)


def load_actions(actions_dir: str | Path | None) -> list[CustomAction]:
    """Read `telegram_actions.toml` from the directory (missing file: no actions)."""
    if not actions_dir:
        return []
    path = Path(actions_dir) / FILENAME
    if not path.exists():
        return []
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_actions(raw, source=str(path))


def parse_actions(raw: dict[str, Any], *, source: str) -> list[CustomAction]:
    """Validate the `[[action]]` tables; ConfigError names the file and the action."""
    unknown_top = set(raw) - {"action"}
    if unknown_top:
        raise ConfigError(f"{source}: unknown key(s) {sorted(unknown_top)} (only [[action]])")
    out: list[CustomAction] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw.get("action", [])):
        where = f"{source}: action #{i + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table")
        unknown = set(entry) - _KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"{where}: 'label' must be non-empty text")
        where = f"{source}: action {label!r}"
        if label in seen:
            raise ConfigError(f"{where}: label used twice")
        seen.add(label)
        try:
            perm = Permission.parse(entry.get("permission", "write"))
        except ValueError as exc:
            raise ConfigError(f"{where}: 'permission': {exc}") from None
        if label.startswith("_"):
            perm = Permission.ADMIN
        if perm == Permission.BLOCKED:
            raise ConfigError(f"{where}: 'permission' cannot be blocked")
        reply = entry.get("reply", "")
        if not isinstance(reply, str):
            raise ConfigError(f"{where}: 'reply' must be text")
        cmd = entry.get("command")
        if cmd is not None:
            if not isinstance(cmd, dict) or set(cmd) - _CMD_KEYS:
                raise ConfigError(f"{where}: 'command' takes only {sorted(_CMD_KEYS)}")
            if not isinstance(cmd.get("device"), str) or cmd.get("op") not in OPS:
                raise ConfigError(f"{where}: 'command' needs device and op (one of {OPS})")
        answers = [k for k in _ANSWERS if k in entry]
        if len(answers) > 1:
            raise ConfigError(f"{where}: only one of {answers} per action")
        files = {
            k: _operator_file(entry[k], source, f"{where}: '{k}'") for k in answers if k != "plot"
        }
        plot = _plot_keys(entry.get("plot", []), f"{where}: 'plot'")
        hours = entry.get("plot_hours", 24.0)
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 1e6:
            raise ConfigError(f"{where}: 'plot_hours' must be a positive number of hours")
        if not reply and cmd is None and not answers:
            raise ConfigError(f"{where}: needs 'reply', 'command', a picture/document/plot")
        out.append(
            CustomAction(
                label=label,
                permission=perm,
                reply=reply,
                command=cmd,
                picture=files.get("picture"),
                document=files.get("document"),
                plot=plot,
                plot_hours=float(hours),
            )
        )
    return out


def _operator_file(value: Any, source: str, where: str) -> Path:
    """A file name next to the actions file (never a path elsewhere); it must exist."""
    if not isinstance(value, str) or not value or Path(value).name != value or value[0] == ".":
        raise ConfigError(f"{where} must be a file name in the actions directory, not a path")
    path = Path(source).parent / value
    if not path.is_file():
        raise ConfigError(f"{where}: {path} does not exist")
    return path


def _plot_keys(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(k, str) and "." in k for k in value):
        raise ConfigError(f'{where} takes a list of "Device.Signal" names')
    return tuple(value)
