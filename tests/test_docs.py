"""Every shell command README.md and docs/*.md tell a user to type works.

Commands are the lines of shell code blocks (```sh, bash, shell, console; and untagged
blocks whose lines start like a command), plus inline `opencontrol …`, `scripts/dev …`
and `python -m …` spans. Each is checked against the installed package: `opencontrol`
commands parse with the real argument parser, and run — a hub or agent with a config in
their `--check` form, everything else as `--help` of its subcommand. Files and paths they
name must exist. A command of a kind this file has no rule for fails, saying so: add a
rule (run it, or its --help/--check form) next to the others.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
SHELL_TAGS = {"sh", "bash", "shell", "console"}
# How a command line begins when it is one (untagged blocks, inline spans).
COMMAND_START = re.compile(
    r"^(opencontrol [a-z]|scripts/dev |python3? -m |\.venv/bin/|pip install |cd |"
    r"ansible-playbook |ansible-lint|apt(-get)? install |sudo |createuser |export )"
)
# System commands the docs mention for the reader's own machine: named, never run here.
SYSTEM = {"apt", "apt-get", "sudo", "createuser", "createdb", "export", "systemctl"}
CONFIGS = {"hub.toml": "examples/hub.toml", "agent.toml": "examples/agent.toml"}


@dataclass(frozen=True)
class Command:
    """One command as the docs show it, where it is, and the directory it runs in."""

    where: str
    text: str
    cwd: str  # relative to the checkout (a `cd` earlier in the block changes it)
    inline: bool  # a span in prose: may be a fragment (`python -m edge_agent --check`)

    def __str__(self) -> str:
        return f"{self.where}: `{self.text}`"


def _blocks(text: str) -> list[tuple[int, str, str]]:
    """(first line number, tag, body) of every fenced code block."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(\s*)```\s*([\w-]*)", lines[i])
        if not m:
            i += 1
            continue
        start, tag, body = i + 2, m.group(2).lower(), []
        i += 1
        while i < len(lines) and not lines[i].lstrip().startswith("```"):
            body.append(lines[i])
            i += 1
        out.append((start, tag, "\n".join(body)))
        i += 1
    return out


def extract(path: Path) -> list[Command]:
    """The commands one Markdown file tells its reader to run."""
    text = path.read_text()
    name = path.relative_to(REPO).as_posix()
    found: list[Command] = []
    for start, tag, body in _blocks(text):
        if tag not in SHELL_TAGS and tag != "":
            continue
        cwd = "."
        joined = body.replace("\\\n", " ")  # continuation lines are one command
        offset = 0
        for k, raw in enumerate(joined.splitlines()):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if tag == "" and not COMMAND_START.match(line):
                continue  # a diagram or output, not something to type
            for part in re.split(r"\s&&\s|;\s", line):
                part = part.strip()
                if part.startswith("cd "):
                    cwd = str(Path(cwd) / part[3:].split("#")[0].strip())
                    continue
                found.append(Command(f"{name}:{start + k + offset}", part, cwd, False))
        offset += body.count("\\\n")
    prose = re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.S | re.M)
    for m in re.finditer(r"`([^`\n]+)`", prose):
        span = m.group(1).strip()
        if re.match(r"^(opencontrol [a-z]|scripts/dev |python3? -m )", span):
            line = text[: text.find(m.group(0))].count("\n") + 1
            found.append(Command(f"{name}:{line}", span, ".", True))
    return found


ALL = [c for doc in DOCS for c in extract(doc)]


def _words(cmd: Command) -> list[str]:
    """The command's words: comments, redirections and placeholders made concrete."""
    text = re.sub(r"\[([^\]]*)\]", r"\1", cmd.text)  # optional parts: [--count N]
    words = shlex.split(text, comments=True)
    out: list[str] = []
    for w in words:
        if w in (">", ">>", "|", "2>&1"):
            break
        if w in ("...", "…"):
            out.append("x")
        elif re.fullmatch(r"[A-Z][A-Z_]*", w):  # NAME, N: a value of the right shape
            out.append("1")
        else:
            out.append(w)
    return out


def _alternatives(words: list[str]) -> list[list[str]]:
    """`ws latest|signals` is two commands."""
    for i, w in enumerate(words):
        if "|" in w and not w.startswith(("-", "'", '"')):
            return [
                v for alt in w.split("|") for v in _alternatives([*words[:i], alt, *words[i + 1 :]])
            ]
    return [words]


def _parser():  # the real one, as the console script builds it
    from hub.cli import build_parser

    return build_parser()


def _subcommands(argv: list[str]) -> list[str]:
    """The subcommand path of an `opencontrol` argv (options and their values skipped)."""
    parser, path, skip = _parser(), [], False
    for w in argv:
        if skip:
            skip = False
            continue
        if w.startswith("-"):
            action = parser._option_string_actions.get(w.split("=")[0])
            skip = action is not None and action.nargs != 0 and "=" not in w
            continue
        subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subs or w not in subs[0].choices:
            break
        parser = subs[0].choices[w]
        path.append(w)
    return path


def _parse(argv: list[str], *, lenient: bool) -> str | None:
    """Parse with the real parser; the error text, or None."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            _parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code in (0, None):
            return None
        text = err.getvalue().strip().splitlines()[-1]
        if lenient and "the following arguments are required" in text:
            return None
        return text
    return None


@cache
def _run(argv: tuple[str, ...], cwd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Any, mosquitto: Any) -> Path:
    """The user's own `hub.toml` and `agent.toml`: the examples, pointed at the test's own
    PostgreSQL and Mosquitto (`hub --check` connects to what the hub would use)."""
    d = tmp_path_factory.mktemp("user")
    shutil.copy(REPO / CONFIGS["agent.toml"], d / "agent.toml")
    hub = (REPO / CONFIGS["hub.toml"]).read_text()
    for pattern, value in (
        (r'^data_dir = ".*?"', f'data_dir = "{d / "data"}"'),
        (r'^dsn = ".*?"', f'dsn = "{pg_cluster.create_database("docs")}"'),
        (r"^port = 1883\b", f"port = {mosquitto.port}"),
    ):
        hub, n = re.subn(pattern, value, hub, count=1, flags=re.M)
        assert n == 1, f"examples/hub.toml has no line {pattern!r} to point at the test's services"
    (d / "hub.toml").write_text(hub)
    return d


def _check_opencontrol(
    cmd: Command, argv: list[str], home: Path, lenient: bool, exe: tuple[str, ...] = ()
) -> None:
    """Parse it; run a hub or agent with a config as `--check`, else its `--help`.

    `exe`: how the process is started (default the `opencontrol` console script; `python
    -m edge_agent` drops the `agent` word)."""
    for alt in _alternatives(argv):
        alt = [str(home / Path(w).name) if Path(w).name in CONFIGS else w for w in alt]
        problem = _parse(alt, lenient=lenient or len(_alternatives(argv)) > 1)
        assert problem is None, f"{cmd}: opencontrol {' '.join(alt)}: {problem}"
        path = _subcommands(alt)
        assert path, f"{cmd}: no opencontrol subcommand in it"
        config = next((alt[i + 1] for i, w in enumerate(alt[:-1]) if w in ("-c", "--config")), "")
        if path[0] in ("hub", "agent") and config and not cmd.inline:
            run = [*alt, *([] if "--check" in alt else ["--check"])]
            full = (*exe, *run[1:]) if exe else (str(BIN / "opencontrol"), *run)
            out = _run(full, str(REPO / cmd.cwd))
            assert out.returncode == 0, f"{cmd}: `{' '.join(full)}` failed:\n{out.stderr}"
        else:  # --help of the subcommand, from the same parser the console script uses
            assert _parse([*path, "--help"], lenient=False) is None, f"{cmd}: --help failed"


def _check_python(cmd: Command, words: list[str], home: Path) -> None:
    """`python -m hub|edge_agent|pytest|simulators.run …`, `python bench/x.py …`."""
    args = words[1:]
    if args[:2] == ["-m", "venv"]:
        return  # the standard library's venv; the pip line after it is checked on its own
    if args and args[0] == "-m":
        module, rest = args[1], args[2:]
        if module in ("edge_agent", "hub"):
            word = "agent" if module == "edge_agent" else "hub"
            exe = (sys.executable, "-m", module)
            return _check_opencontrol(cmd, [word, *rest], home, cmd.inline, exe)
        if module == "pytest":
            for w in rest:
                if w.startswith("tests"):
                    assert (REPO / w.split("::")[0]).exists(), f"{cmd}: no {w}"
            return None
        if module == "simulators.run":
            from simulators.run import SIMULATORS

            assert rest and rest[0] in SIMULATORS, f"{cmd}: simulators are {SIMULATORS}"
            out = _run((sys.executable, "-m", module, "--help"), str(REPO))
            assert out.returncode == 0, f"{cmd}: {out.stderr}"
            return None
        pytest.fail(f"{cmd}: no rule for `python -m {module}` in tests/test_docs.py")
    script = REPO / args[0]
    assert script.is_file(), f"{cmd}: no file {args[0]} in the checkout"
    if Path(words[0]).parent.name == "bin" and not words[0].startswith(".venv/"):
        return None  # an interpreter the docs had the user make (its own venv): file only
    out = _run((sys.executable, str(script), "--help"), str(REPO))
    assert out.returncode == 0 and "usage" in out.stdout, f"{cmd}: --help failed: {out.stderr}"
    return None


def _check_dev(cmd: Command, words: list[str], home: Path) -> None:
    """`scripts/dev demo|test|lint …`: a subcommand the script has, with valid arguments."""
    script = (REPO / "scripts" / "dev").read_text()
    known = set(re.findall(r"^  ([a-z]+)\)", script, re.M))
    assert len(words) > 1 and words[1] in known, f"{cmd}: scripts/dev knows {sorted(known)}"
    if words[1] == "demo":
        from simulators.run import SIMULATORS

        _check_opencontrol(cmd, ["demo", *words[2:]], home, cmd.inline)
        sims = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--sim"]
        assert set(sims) <= set(SIMULATORS), f"{cmd}: simulators are {SIMULATORS}"
    elif words[1] == "test":
        for w in words[2:]:
            if w.startswith("tests"):
                assert (REPO / w.split("::")[0]).exists(), f"{cmd}: no {w}"


def _check_pip(cmd: Command, words: list[str]) -> None:
    """`pip install 'opencontrol[extras]'` or `'.[extras]'`: those extras exist."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = set(extras["optional-dependencies"])
    for w in words[2:]:
        m = re.fullmatch(r"(?:opencontrol|\.)\[([\w,-]+)\]", w)
        if m:
            missing = set(m.group(1).split(",")) - declared
            assert not missing, f"{cmd}: no extras {sorted(missing)} in pyproject.toml"


def _check_ansible(cmd: Command, words: list[str]) -> None:
    """ansible-playbook/ansible-lint: installed with the dev extras; the files named exist."""
    assert (BIN / words[0]).exists(), f"{cmd}: {words[0]} is not installed by the dev extras"
    cwd = REPO / cmd.cwd
    for w in words[1:]:
        if not w.startswith("-") and ("/" in w or w.endswith((".yml", ".yaml"))):
            made = USER_COPIES.get((cwd / w).resolve())  # "Copy `x.example` to `x`"
            assert (cwd / w).exists() or (made and made.exists()), f"{cmd}: no {w} in {cmd.cwd}"


def _user_copies() -> dict[Path, Path]:
    """Files the docs tell the user to make by copying an example: made -> example."""
    out = {}
    for doc in DOCS:
        for src, dst in re.findall(r"[Cc]opy `([^`]+)` to `([^`]+)`", doc.read_text()):
            out[(REPO / dst).resolve()] = REPO / src
    return out


USER_COPIES = _user_copies()


@pytest.mark.parametrize("cmd", ALL, ids=[c.where for c in ALL])
def test_documented_command_works(cmd: Command, home: Path) -> None:
    assert (REPO / cmd.cwd).is_dir(), f"{cmd}: no directory {cmd.cwd}"
    words = _words(cmd)
    if not words:
        return
    first = words[0]
    exe = Path(first).name
    if exe == "opencontrol":
        _check_opencontrol(cmd, words[1:], home, cmd.inline)
    elif re.fullmatch(r"python3?(\.\d+)?", exe):
        _check_python(cmd, words, home)
    elif first == "scripts/dev":
        _check_dev(cmd, words, home)
    elif exe == "pip":
        _check_pip(cmd, words)
    elif exe in ("ansible-playbook", "ansible-lint"):
        _check_ansible(cmd, words)
    elif exe not in SYSTEM:
        pytest.fail(f"{cmd}: no rule for '{first}' commands in tests/test_docs.py; add one")


def test_the_console_script_runs(home: Path) -> None:
    out = _run((str(BIN / "opencontrol"), "--help"), str(home))
    assert out.returncode == 0 and "usage: opencontrol" in out.stdout, out.stderr


def test_the_extractor_finds_the_commands_users_type() -> None:
    texts = {c.text.split("#")[0].strip() for c in ALL}
    for expected in (
        "scripts/dev test",
        "opencontrol agent -c agent.toml",
        "opencontrol agent -c agent.toml --check",
        "scripts/dev demo --sim modbus",
        ".venv/bin/python -m simulators.run heliotherm",
        "ansible-playbook -i inventory/hosts.yml site.yml --check --diff",
    ):
        assert expected in texts, f"{expected!r} not extracted"
    # Diagrams, config and output blocks are not commands.
    assert not any(c.text.startswith(("agent:", "config error", "Generator.")) for c in ALL)


def test_a_broken_command_is_caught_with_its_place(home: Path) -> None:
    bad = Command("README.md:1", "opencontrol agent --colour", ".", False)
    with pytest.raises(AssertionError, match=r"README.md:1: `opencontrol agent --colour`"):
        test_documented_command_works(bad, home)
    with pytest.raises(pytest.fail.Exception, match="no rule for 'frobnicate'"):
        test_documented_command_works(Command("x.md:2", "frobnicate now", ".", False), home)


# Built from pieces, so this file does not match itself.
OUTSIDE = re.compile("|".join(["[.][.]/" + "shared", "/" + "work/", "shared/" + "[A-Z-]+[.]md"]))


def test_nothing_points_outside_the_checkout() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout.split()
    hits = []
    for name in tracked:
        path = REPO / name
        if path.suffix in (".png", ".whl", ".gz") or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        hits += [f"{name}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert hits == []


def test_markdown_links_point_at_files_in_the_checkout() -> None:
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if re.match(r"^[a-z]+://|^mailto:", target):
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert broken == []
    assert (REPO / "docs" / "DESIGN.md").is_file()


def test_readme_says_what_the_first_test_run_downloads() -> None:
    readme = (REPO / "README.md").read_text()
    for words in ("PGlite", "not a TimescaleDB server", "430 MB", "RTOC 3.0's own client"):
        assert words in readme, f"README.md no longer says {words!r}"
    # and the suite really is set up that way
    assert "pglite" in (REPO / "tests" / "node" / "package.json").read_text()
    assert "debootstrap" in (REPO / "tests" / "ansible" / "rootfs.py").read_text()
