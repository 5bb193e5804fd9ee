"""Device buttons and typed values: start/stop, sample rate, parameters, functions, shortcuts.

A mixin of BotCore. Typed values are parsed against the driver's declaration (devices.py)
before anything is sent. Who may press what is decided by the routes (handlers.ROUTES):
write users may touch any device, custom users only the targets of their own shortcuts.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any

from hub.service import HubService

from . import menus
from .devices import (
    DeviceInfo,
    describe_param,
    parse_call_args,
    parse_param_value,
    parse_samplerate,
    signature,
)
from .ui import Awaiting, Reply, Session
from .users import Permission, Shortcut, User


class DeviceHandlers:
    """The Devices menu and shortcuts (mixed into BotCore, which provides hub and users)."""

    service: HubService
    save_users: Callable[[], Awaitable[None]]

    def _main(self, user: User, perm: Permission, session: Session, text: str = "") -> Reply:
        raise NotImplementedError

    async def _route(
        self, user: User, perm: Permission, session: Session, prefix: str, args: tuple[str, ...]
    ) -> Reply:
        raise NotImplementedError

    # ---- devices --------------------------------------------------------------------
    def _device(self, name: str) -> DeviceInfo | None:
        return self.service.devices().get(name)

    async def _on_dev(self, user: User, perm: Permission, session: Session) -> Reply:
        session.awaiting = None
        return menus.devices_menu(self.service.devices(), session)

    async def _on_d(self, user: User, perm: Permission, session: Session, name: str) -> Reply:
        d = self._device(name)
        if d is None:
            return menus.devices_menu(self.service.devices(), session)
        return menus.device_menu(d, session)

    async def _command(
        self, device: str, op: str, name: str | None = None, args: Any = None
    ) -> str:
        what = f"{device}.{name}" if name else device
        res = await self.service.command(device, op, name, args)
        if res.ok:
            return f"{op} {what}: done" + (f" ({res.result!r})" if res.result is not None else "")
        return f"{op} {what} failed: {res.error}"

    async def _on_start(self, user: User, perm: Permission, session: Session, name: str) -> Reply:
        msg = await self._command(name, "start")
        return self._after_device(name, session, msg)

    async def _on_stop(self, user: User, perm: Permission, session: Session, name: str) -> Reply:
        msg = await self._command(name, "stop")
        return self._after_device(name, session, msg)

    def _after_device(self, name: str, session: Session, msg: str) -> Reply:
        d = self._device(name)
        reply = (
            menus.device_menu(d, session)
            if d
            else menus.devices_menu(self.service.devices(), session)
        )
        reply.text = html.escape(msg) + "\n\n" + reply.text
        return reply

    async def _on_sr(self, user: User, perm: Permission, session: Session, name: str) -> Reply:
        d = self._device(name)
        if d is None:
            return menus.Reply(f"No device {html.escape(name)}.")
        session.awaiting = Awaiting("sr", (name,))
        limit = d.decl.max_samplerate
        return menus.Reply(
            f"Send the new sample rate of {html.escape(name)} in Hz"
            + (f" (at most {limit})." if limit is not None else ".")
        )

    async def _on_p(
        self, user: User, perm: Permission, session: Session, name: str, param: str
    ) -> Reply:
        d = self._device(name)
        try:
            decl = d.param(param) if d else None
        except KeyError:
            decl = None
        if decl is None:
            return menus.Reply(html.escape(f"{name} has no parameter {param!r}."))
        session.awaiting = Awaiting("p", (name, param))
        return menus.Reply(
            html.escape(
                f"Send a new value for {name}.{param} ({describe_param(decl)}); now {decl.value!r}."
            )
        )

    async def _on_f(
        self, user: User, perm: Permission, session: Session, name: str, fn: str
    ) -> Reply:
        d = self._device(name)
        try:
            decl = d.function(fn) if d else None
        except KeyError:
            decl = None
        if decl is None:
            return menus.Reply(html.escape(f"{name} has no function {fn!r}."))
        if not decl.args:
            return menus.Reply(html.escape(await self._command(name, "call", fn, {})))
        session.awaiting = Awaiting("f", (name, fn))
        return menus.Reply(
            html.escape(
                f"Send the arguments for {name}.{signature(decl)}, e.g. 1.5, 2 or volts=1.5"
            )
        )

    async def _on_sc(self, user: User, perm: Permission, session: Session, index: str) -> Reply:
        try:
            sc = user.shortcuts[int(index)]
        except (IndexError, ValueError):
            return self._main(user, perm, session, "That shortcut is gone.")
        # Through the router: the target is checked like a press of its own button.
        prefix = "p" if sc.kind == "param" else "f"
        return await self._route(user, perm, session, prefix, (sc.device, sc.name))

    async def _on_scadd(
        self, user: User, perm: Permission, session: Session, kind: str, device: str, name: str
    ) -> Reply:
        label = f"{device}.{name}" + ("()" if kind == "call" else "")
        if any(s.label == label for s in user.shortcuts):
            return menus.Reply(f"You already have the shortcut {html.escape(label)}.")
        user.shortcuts.append(Shortcut(label=label, device=device, kind=kind, name=name))
        await self.save_users()
        return self._main(user, perm, session, f"Shortcut {html.escape(label)} added.")

    async def _on_scdel(self, user: User, perm: Permission, session: Session, index: str) -> Reply:
        try:
            sc = user.shortcuts.pop(int(index))
        except (IndexError, ValueError):
            return menus.settings_menu(user, perm, session)
        await self.save_users()
        reply = menus.settings_menu(user, perm, session)
        reply.text = f"Shortcut {html.escape(sc.label)} removed."
        return reply

    async def _text_sr(
        self, user: User, perm: Permission, session: Session, text: str, name: str
    ) -> Reply:
        d = self._device(name)
        rate = parse_samplerate(d.decl.max_samplerate if d else None, text)
        session.awaiting = None
        return self._after_device(
            name, session, await self._command(name, "samplerate", None, rate)
        )

    async def _text_p(
        self, user: User, perm: Permission, session: Session, text: str, name: str, param: str
    ) -> Reply:
        d = self._device(name)
        if d is None:
            raise ValueError(f"device {name} is not known (any more)")
        value = parse_param_value(d.param(param), text)
        session.awaiting = None
        msg = await self._command(name, "set", param, value)
        return self._main(user, perm, session, html.escape(msg))

    async def _text_f(
        self, user: User, perm: Permission, session: Session, text: str, name: str, fn: str
    ) -> Reply:
        d = self._device(name)
        if d is None:
            raise ValueError(f"device {name} is not known (any more)")
        args = parse_call_args(d.function(fn), text)
        session.awaiting = None
        msg = await self._command(name, "call", fn, args)
        return self._main(user, perm, session, html.escape(msg))
