"""Who may use the MQTT broker: password and ACL files in Mosquitto's own formats.

One model for the embedded broker and for Mosquitto (the Ansible role): a password file of
`user:$7$...` lines (PBKDF2-SHA512, what `mosquitto_passwd` writes) and an ACL file of
`user` / `topic read|write|readwrite` lines rendered by the same rules as the role's
`acl.j2`. `opencontrol mqtt` writes both; the embedded broker reads both (again whenever
they change); a Mosquitto can be given them as they are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HUB_USER = "hub"
# mosquitto_passwd (2.0) uses 101; more costs the broker more per connect, to no gain for
# the random passwords `opencontrol mqtt add` makes.
ITERATIONS = 1000
_AGENT_WRITES = ("data", "event", "status", "cmd/result")
# Everything below this line of the ACL file is the operator's, kept by `opencontrol mqtt`.
OWN_RULES = "# ---- your own rules below: `opencontrol mqtt` keeps them ----\n"
_AGENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # as the agent's config checks it


class AuthFileError(ValueError):
    """A password or ACL file that cannot be read; the message names the file and line."""


def check_agent_id(name: str) -> str:
    """An agent's MQTT user name is its agent id: 1-64 of A-Z a-z 0-9 _ -, not `hub`."""
    if name == HUB_USER:
        raise AuthFileError(f"{HUB_USER!r} is the hub's own user, not an agent id")
    if not _AGENT_ID.match(name):
        raise AuthFileError(f"agent id {name!r}: use 1-64 characters of A-Z a-z 0-9 _ -")
    return name


# -- passwords -----------------------------------------------------------------------------
def hash_password(password: str, *, iterations: int = ITERATIONS) -> str:
    """A Mosquitto `$7$` hash: PBKDF2-HMAC-SHA512, 12-byte salt, base64 parts."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against a `$7$` (PBKDF2-SHA512) or `$6$` (salted SHA512) hash."""
    try:
        parts = encoded.split("$")
        if len(parts) == 5 and parts[1] == "7":
            iterations = int(parts[2])
            salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
            if not 1 <= iterations <= 10_000_000:
                return False
            got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
        elif len(parts) == 4 and parts[1] == "6":
            salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            got = hashlib.sha512(password.encode() + salt).digest()
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def read_passwords(path: Path) -> dict[str, str]:
    """`user: hash` of a password file (comments and blank lines skipped)."""
    users: dict[str, str] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return users
    except OSError as exc:
        raise AuthFileError(f"cannot read MQTT password file {path}: {exc}") from exc
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user or not encoded.startswith("$"):
            raise AuthFileError(f"{path}:{n}: expected 'user:$7$...' (a hashed password)")
        users[user] = encoded
    return users


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (mode 0600), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_passwords(path: Path, users: dict[str, str]) -> None:
    """Write `user:hash` lines (sorted) to a private file."""
    body = "".join(f"{u}:{h}\n" for u, h in sorted(users.items()))
    write_private(path, "# Written by `opencontrol mqtt`: user:PBKDF2-SHA512 hash\n" + body)


def save_users(mqtt: dict[str, Any], users: dict[str, str]) -> None:
    """Write the password file and the ACL rendered from it (paths and prefix of `[mqtt]`),
    keeping the operator's own rules below OWN_RULES in the ACL file."""
    acl_file = Path(mqtt["acl_file"])
    try:
        own = acl_file.read_text().partition(OWN_RULES)[2]
    except FileNotFoundError:
        own = ""
    write_passwords(Path(mqtt["password_file"]), users)
    write_private(acl_file, render_acl(mqtt["prefix"], users, own=own))


def set_password(mqtt: dict[str, Any], agent: str, password: str) -> None:
    """Add an agent's user (or give it a new password); writes both files."""
    users = read_passwords(Path(mqtt["password_file"]))
    users[check_agent_id(agent)] = hash_password(password)
    save_users(mqtt, users)


# -- the ACL -------------------------------------------------------------------------------
def render_acl(
    prefix: str, agents: Iterable[str], *, hub_user: str = HUB_USER, own: str = ""
) -> str:
    """The ACL for the hub and `agents`: the rules of ansible/roles/mosquitto/templates/acl.j2;
    then the operator's `own` rules (their `user`s get no agent rules: Home Assistant's)."""
    others = set(Acl.parse(own).users)
    out = [
        "# Written by `opencontrol mqtt` (the rules of the Ansible role's acl.j2).",
        "# The hub reads and writes everything under the prefix.",
        f"user {hub_user}",
        f"topic readwrite {prefix}/#",
        "",
    ]
    for agent in sorted(set(agents) - {hub_user} - others):
        out += [
            f"# Agent {agent}: writes its own data, events, status and command results;",
            "# reads only its own commands and acks, and the hub's state.",
            f"user {agent}",
            *(
                f"topic write {prefix}/{agent}/{k}"
                for k in ("data", "event", "status", "cmd/result")
            ),
            f"topic read {prefix}/{agent}/cmd",
            f"topic read {prefix}/{agent}/ack",
            f"topic read {prefix}/hub/state",
            "",
        ]
    return "\n".join(out) + OWN_RULES + own


@dataclass
class Acl:
    """Parsed ACL rules: per user (None = anonymous) a list of (access, topic filter);
    `pattern` rules apply to every user with %u / %c replaced."""

    users: dict[str | None, list[tuple[str, str]]] = field(default_factory=dict)
    patterns: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, source: str = "ACL") -> Acl:
        acl = cls()
        current: str | None = None
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            rest = rest.strip()
            if word == "user" and rest:
                current = rest
                acl.users.setdefault(current, [])
                continue
            if word in ("topic", "pattern") and rest:
                access, _, topic = rest.partition(" ")
                if access not in ("read", "write", "readwrite", "deny") or not topic.strip():
                    access, topic = "readwrite", rest
                rule = (access, topic.strip())
                if word == "pattern":
                    acl.patterns.append(rule)
                else:
                    acl.users.setdefault(current, []).append(rule)
                continue
            raise AuthFileError(f"{source}:{n}: cannot read {line!r}")
        return acl

    def allows(self, user: str | None, client_id: str, topic: str, access: str) -> bool:
        """May `user` read or write (`access`) this concrete topic? Deny rules win."""
        rules = list(self.users.get(user, []))
        if user is not None:
            rules += [(a, t.replace("%u", user).replace("%c", client_id)) for a, t in self.patterns]
        granted = False
        for rule_access, rule_topic in rules:
            if not topic_matches(rule_topic, topic):
                continue
            if rule_access == "deny":
                return False
            if rule_access in (access, "readwrite"):
                granted = True
        return granted


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching (`+` one level, `#` the rest); `$` topics need a `$` filter."""
    if topic.startswith("$") != topic_filter.startswith("$"):
        return False
    want, have = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(have) or (level != "+" and level != have[i]):
            return False
    return len(want) == len(have)


# -- the embedded broker's view ---------------------------------------------------------------
class BrokerUsers:
    """Passwords and ACL for the embedded broker, re-read when a file changes.

    Users added with `add_runtime` (the hub's own, made at each start) live only in memory.
    """

    def __init__(self, *, password_file: Path, acl_file: Path) -> None:
        self.password_file = password_file
        self.acl_file = acl_file
        self._runtime: dict[str, str] = {}
        self._runtime_rules: dict[str, list[tuple[str, str]]] = {}
        self._passwords: dict[str, str] = {}
        self._acl = Acl()
        self._stamp: tuple[object, object] | None = None
        self._lock = threading.Lock()

    def add_runtime(self, user: str, password: str, rules: list[tuple[str, str]]) -> None:
        """A user known only to this process (the hub): its password never touches a file,
        its rights (access, topic filter) are given here, not read from the ACL file."""
        self._runtime[user] = hash_password(password, iterations=1)
        self._runtime_rules[user] = list(rules)

    def load(self) -> None:
        """Read both files now; AuthFileError if one is malformed."""
        stamp = (_stamp(self.password_file), _stamp(self.acl_file))
        passwords = read_passwords(self.password_file)
        try:
            acl_text = self.acl_file.read_text()
        except FileNotFoundError:
            acl_text = ""
        acl = Acl.parse(acl_text, str(self.acl_file))
        with self._lock:
            self._passwords, self._acl, self._stamp = passwords, acl, stamp

    def refresh(self) -> None:
        """Re-read the files if either changed (a bad new file keeps the old rules)."""
        if (_stamp(self.password_file), _stamp(self.acl_file)) != self._stamp:
            self.load()

    @property
    def agents(self) -> list[str]:
        return sorted(set(self._passwords) - {HUB_USER})

    def check_password(self, user: str | None, password: str | None) -> bool:
        if not user:
            return False
        encoded = self._runtime.get(user) or self._passwords.get(user)
        return encoded is not None and verify_password(password or "", encoded)

    def allows(self, user: str | None, client_id: str, topic: str, access: str) -> bool:
        if user in self._runtime_rules:
            return Acl(users={user: self._runtime_rules[user]}).allows(
                user, client_id, topic, access
            )
        return self._acl.allows(user, client_id, topic, access)

    def ensure_files(self, prefix: str) -> None:
        """Make an empty password file and its ACL when missing (private files)."""
        if not self.password_file.exists():
            write_passwords(self.password_file, {})
        if not self.acl_file.exists():
            write_private(self.acl_file, render_acl(prefix, read_passwords(self.password_file)))


def _stamp(path: Path) -> object:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)
