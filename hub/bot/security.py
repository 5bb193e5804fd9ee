"""Token hygiene and the one-poller rule: token lookup, log redaction, an advisory lock."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from edge_agent.config_schema import ConfigError

NOISY_LOGGERS = ("httpx", "httpcore")
# Loggers that may see the token: PTB's bot logs "Set Bot API URL: .../bot<token>" at DEBUG.
REDACTED_LOGGERS = (
    "telegram.Bot",
    "telegram.ext.ExtBot",
    "telegram.ext.Updater",
    "telegram.ext.Application",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "httpx",
    "httpcore",
)


class AlreadyPolling(RuntimeError):
    """Another process already polls with this token."""


class TokenRedactor(logging.Filter):
    """Replace known tokens in log records by `<token>` (message, arguments, traceback)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def redact(self, text: str) -> str:
        """`text` with every known token replaced."""
        for token in self.tokens:
            text = text.replace(token, "<token>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.tokens:
            return True
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if self.redact(text) != text:
                record.exc_text = self.redact(text)
                record.exc_info = None
        return True


REDACTOR = TokenRedactor()


def quiet_http_loggers(token: str | None = None) -> None:
    """Keep the HTTP client's loggers at WARNING (they log URLs containing the token) and
    redact the token from the loggers that may still see it."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if token:
        REDACTOR.tokens.add(token)
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)


def resolve_token(config: dict[str, Any]) -> str:
    """The token from config, else from the environment variable named by token_env."""
    token = str(config.get("token") or "")
    if not token and config.get("token_env"):
        token = os.environ.get(str(config["token_env"]), "")
    if not token:
        env = config.get("token_env") or "OPENCONTROL_TELEGRAM_TOKEN"
        raise ConfigError(f"telegram: no token; set 'telegram.token' or ${env}")
    return token.strip()


class PollerLock:
    """An advisory file lock (flock) per token: a second process cannot hold it."""

    def __init__(self, *, directory: str | Path, token: str) -> None:
        digest = hashlib.sha256(token.encode()).hexdigest()[:16]
        self.path = Path(directory) / f"telegram-{digest}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyPolling."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyPolling(
                f"another process polls Telegram with this token (lock {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
