"""`logger.language` for the dashboard: the logged-in hub user's language, read or set.

`{"logger": {"language": null}}` answers the stored choice ("en" without one);
`{"logger": {"language": "de"}}` stores it with the user (hub/users.py) and answers it.
A client that did not log in as a hub user has nothing to store it with.
"""

from __future__ import annotations

from typing import Any

from hub.i18n import DEFAULT, LANGUAGES
from hub.users import UserError, load_users, save_users

from .session import ClientSession
from .state import RequestError, ServerState


async def language(st: ServerState, s: ClientSession, arg: Any) -> str:
    """The user's language after the request (set when `arg` names one)."""
    if arg is not None and arg not in LANGUAGES:
        raise RequestError(f"logger.language is one of {sorted(LANGUAGES)} (or null to read)")
    if not s.user:
        if arg is None:
            return DEFAULT
        raise RequestError("logger.language: log in as a hub user to keep a language")
    users = await load_users(st.service)
    user = users.get(s.user)
    if user is None:
        raise RequestError(f"logger.language: no hub user {s.user!r} any more")
    if arg is None or arg == user.language:
        return user.language
    try:
        users.set_language(s.user, arg)
    except UserError as exc:
        raise RequestError(f"logger.language: {exc}") from exc
    await save_users(st.service, users)
    return str(arg)
