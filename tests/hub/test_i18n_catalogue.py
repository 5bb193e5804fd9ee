"""Every text the bot builds for a user has a German entry in the catalogue (hub/i18n.py).

The bot's modules are read as source: each text passed to `Reply`, `Button`,
`html.escape`, `tell_admins` or raised as a `ValueError` to the user (f-strings as
templates, module constants by name) must come out German. Texts made only of names and
symbols (`{}: {}`, `★ {}.{}`) are language-neutral. The engine's and the service's
refusals a Telegram user sees are checked by their real wording."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import hub.bot
from hub.i18n import translate_line

BOT = Path(hub.bot.__file__).parent
HUB = BOT.parent
# call → where its user-facing text is: the position of the argument, or a keyword
CALLS: dict[str, int | str] = {
    "Reply": 0,
    "Button": 0,
    "escape": 0,
    "tell_admins": 0,
    "ValueError": 0,
}
# What the engine and the service answer a Telegram user (user actions, tests, refusals).
ENGINE_FILES = (
    "service/automation.py",
    "engine/engine.py",
    "engine/script.py",
    "engine/hostfns.py",
)
ENGINE_CALLS: dict[str, int | str] = {
    "UserActionResult": 3,
    "ScriptOutcome": 1,
    "PermissionDenied": 0,
    "EvalError": 0,
    "SandboxError": 0,
    "ScriptResult": "error",
}
FILL = "Q9"


def _template(node: ast.AST, consts: dict[str, str]) -> str | None:
    """A text node as a template ({} for each interpolated part), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _template(node.left, consts), _template(node.right, consts)
        return None if a is None or b is None else a + b
    if isinstance(node, ast.Name | ast.Attribute):
        name = node.id if isinstance(node, ast.Name) else node.attr
        return consts.get(name)
    return None


def _constants() -> dict[str, str]:
    """Module-level UPPER_CASE text constants of the bot's modules."""
    out: dict[str, str] = {}
    for path in BOT.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for t in node.targets:
                    if (
                        isinstance(t, ast.Name)
                        and t.id.isupper()
                        and isinstance(node.value.value, str)
                    ):
                        out[t.id] = node.value.value
    return out


def _argument(node: ast.Call, where: int | str) -> ast.AST | None:
    if isinstance(where, int):
        return node.args[where] if len(node.args) > where else None
    return next((k.value for k in node.keywords if k.arg == where), None)


def user_texts(paths: list[Path], calls: dict[str, int | str]) -> dict[str, str]:
    """Each line of each user-facing text template → where it is made."""
    consts = _constants()
    found: dict[str, str] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            arg = _argument(node, calls[name]) if name in calls else None
            if arg is None:
                continue
            text = _template(arg, consts)
            for line in (text or "").split("\n"):
                # a part glued to a line before it ("{head}Users …") or after it
                line = re.sub(r"^\{\}(?=\w)", "", line).strip()
                found.setdefault(line, f"{path.relative_to(HUB)}:{node.lineno}")
    return found


def neutral(template: str) -> bool:
    """Only names, values and symbols (`{}: {}`, `event(): {}`, `telegram: {}`): the same
    in every language."""
    rest = re.sub(r"[\w.]+\(\)|^telegram:", "", template.replace("{}", ""))
    return not re.search(r"[A-Za-z]{2,}", rest)


def german(text: str) -> bool:
    return translate_line("de", text) != text or translate_line("de", html.escape(text)) != (
        html.escape(text)
    )


def test_every_bot_text_has_a_german_entry() -> None:
    texts = user_texts(sorted(BOT.glob("*.py")), CALLS)
    assert len(texts) > 80, "the collector finds the bot's texts"
    assert_german(texts)


def test_every_engine_and_service_answer_has_a_german_entry() -> None:
    texts = user_texts([HUB / f for f in ENGINE_FILES], ENGINE_CALLS)
    assert len(texts) > 30, "the collector finds the engine's texts"
    assert_german(texts)


def assert_german(texts: dict[str, str]) -> None:
    missing = [
        f"{where}: {t!r}"
        for t, where in sorted(texts.items(), key=lambda kv: kv[1])
        if t and not neutral(t) and not german(t.replace("{}", FILL))
    ]
    assert not missing, "no German entry for:\n" + "\n".join(missing)


def test_the_most_specific_template_wins_and_parts_are_translated() -> None:
    assert translate_line("de", "Menu: inline") == "Menü: in der Nachricht"  # not "{}: {}"
    line = html.escape("nodoc: no document 'x.pdf' in /srv/documents")
    assert translate_line("de", line) == html.escape(
        "nodoc: kein Dokument 'x.pdf' in /srv/documents"
    )
    line = "error: line 3: unknown signal A.B"
    assert translate_line("de", line) == "Fehler: Zeile 3: unbekanntes Signal A.B"
    assert translate_line("de", "Room.T: 21.5") == "Room.T: 21.5"  # data stays
