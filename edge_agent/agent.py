"""The agent: wires drivers, scheduler, batcher, spool, publisher and commands together.

`Agent(config=...)` does no I/O; `start()` opens the spool, connects and starts the
devices; `stop()` stops the devices, flushes the open batch into the spool, waits
briefly for acks, publishes the offline status and closes everything. `run()` does
both around a wait for SIGTERM/SIGINT.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from . import sdnotify
from .batcher import Batcher
from .clock import MonoClock, SyncCheck, WallClock
from .commands import CommandHandler
from .drivers.base import Driver, EventSink
from .drivers.registry import driver_class
from .publisher import Publisher
from .scheduler import DriverRunner, Scheduler
from .spool import Spool
from .status import build_status, offline_status
from .wire import AgentStatus, Event, Series, Topics, json_value

log = logging.getLogger(__name__)

STATUS_DEBOUNCE = 0.2  # s: several changes in a row give one status message


class Agent:
    """One edge agent process: everything between the drivers and the broker."""

    def __init__(
        self,
        *,
        config: dict[str, Any],
        wall: WallClock = time.time,
        mono: MonoClock = time.monotonic,
        clock_synced: Callable[[], bool] | None = None,
        client_id: str | None = None,
    ) -> None:
        self.config = config
        a, m = config["agent"], config["mqtt"]
        self.agent_id: str = a["id"]
        self.topics = Topics(m["prefix"])
        self._wall = wall
        self._mono = mono
        self._synced = clock_synced or SyncCheck(mono=mono)
        self.spool = Spool(
            path=a["spool_path"],
            agent=self.agent_id,
            max_bytes=a["spool_max_bytes"],
            memory_age=a["spool_memory_age"],
            wall=wall,
        )
        self.batcher = Batcher(
            sink=self._store_batch,
            max_samples=a["batch_max_samples"],
            max_age=a["batch_max_age"],
            mono=mono,
        )
        self.scheduler = Scheduler(sink=self.batcher.add, mono=mono)
        self.commands = CommandHandler(scheduler=self.scheduler, on_change=self.changed)
        self.publisher = Publisher(
            agent=self.agent_id,
            topics=self.topics,
            spool=self.spool,
            host=m["host"],
            port=m["port"],
            username=m["username"],
            password=m["password"],
            tls_ca=m["tls_ca"],
            tls_cert=m["tls_cert"],
            tls_key=m["tls_key"],
            keepalive=m["keepalive"],
            reconnect_min=m["reconnect_min"],
            reconnect_max=m["reconnect_max"],
            max_inflight=a["max_inflight"],
            ack_timeout=a["ack_timeout"],
            birth=lambda: self.status().encode(),
            will=offline_status(self.agent_id).encode(),
            on_command=self._queue_command,
            mono=mono,
            client_id=client_id,
        )
        self._status_interval: float = a["status_interval"]
        self._commands: queue.Queue[bytes | None] = queue.Queue(maxsize=100)
        self._changed = threading.Event()
        self._events: list[Event] = []
        self._events_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started = False

    # lifecycle -------------------------------------------------------------------------

    def _build_drivers(self) -> None:
        for name, dev in self.config["devices"].items():
            cls = driver_class(dev["driver"])
            extra = {k: dev[k] for k in cls.spec.extra_config if k in dev}
            driver: Driver = cls(
                device=name, params=dev["params"], extra=extra, events=self.event_sink(name)
            )
            runner = DriverRunner(
                driver=driver,
                samplerate=dev["samplerate"],
                wall=self._wall,
                mono=self._mono,
                on_change=self.changed,
            )
            self.scheduler.add(runner)

    def start(self) -> None:
        """Open the spool, connect, start enabled devices and the housekeeping threads."""
        self.spool.open()
        try:
            self._build_drivers()
        except Exception:
            self.spool.close()
            raise
        self.publisher.start()
        for target, name in ((self._housekeeping, "housekeeping"), (self._command_loop, "cmd")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        enabled = [n for n, d in self.config["devices"].items() if d["enabled"]]
        self.scheduler.start(enabled)
        self.started = True
        self.changed()  # a birth sent before the devices ran would say they are stopped
        sdnotify.notify("READY=1")
        log.info(
            "agent %s started: %d devices, spool %s, broker %s:%s",
            self.agent_id,
            len(enabled),
            self.spool.path,
            self.publisher.host,
            self.publisher.port,
        )

    def stop(self, *, drain: float = 1.0) -> None:
        """Stop devices, flush the open batch to the spool, publish offline, close."""
        if not self.started:
            return
        self.started = False
        sdnotify.notify("STOPPING=1")
        self.scheduler.stop()
        try:
            self.batcher.flush()
            self._spool_pending_events()
        except Exception:
            log.exception("could not flush the last batch into the spool")
        self._stop.set()
        self._commands.put(None)
        for thread in self._threads:
            thread.join(5)
        self.publisher.stop(drain=drain, offline=offline_status(self.agent_id).encode())
        stats = self.spool.stats()
        self.spool.close()
        log.info(
            "agent %s stopped; %d batches (%d samples) wait in the spool for the hub",
            self.agent_id,
            stats.batches,
            stats.samples,
        )

    def run(self, *, install_signals: bool = True) -> None:
        """Start, wait for SIGTERM/SIGINT (or `request_stop()`), then stop cleanly."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda signum, frame: self.request_stop())
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()

    def request_stop(self) -> None:
        """Ask `run()` to return (safe from a signal handler)."""
        self._stop.set()

    # internals -------------------------------------------------------------------------

    def changed(self, device: str = "") -> None:
        """Note a change of state; the status is republished shortly."""
        self._changed.set()

    def event_sink(self, device: str) -> EventSink:
        """The sink a driver reports edge events to: spooled in the next batch, so an event
        is stored exactly once like a sample (not lost while the broker is away)."""

        def sink(
            text: str,
            *,
            signal: str = "",
            priority: int = 0,
            value: Any = None,
            device: str = device,
            event_id: str = "",
            time: float | None = None,
        ) -> None:
            sname = signal or "unknownEvent"
            event = Event(
                time=self._wall() if time is None else time,
                device=device,
                signal=sname,
                text=str(text)[:4000],
                priority=priority if priority in (0, 1, 2) else 0,
                # RTOC's default event id: sha1 of sname + dname + text
                event_id=str(event_id)[:200]
                or hashlib.sha1(f"{sname}{device}{text}".encode()).hexdigest(),
                value=json_value(value),
            )
            with self._events_lock:
                self._events.append(event)

        return sink

    def _take_events(self) -> list[Event]:
        with self._events_lock:
            events, self._events = self._events, []
        return events

    def _spool_pending_events(self) -> None:
        """Events wait at most one housekeeping tick: they close the open batch, or go alone."""
        if self._events and not self.batcher.flush():
            self._store_batch([])

    def status(self) -> AgentStatus:
        """The current status message."""
        return build_status(
            agent=self.agent_id,
            runners=list(self.scheduler.runners.values()),
            spool=self.spool.stats(),
            clock_synced=self._synced(),
            now=self._wall(),
        )

    def _store_batch(self, signals: list[Series]) -> None:
        self.spool.append(signals, clock_synced=self._synced(), events=self._take_events())
        self.publisher.wake()

    def _queue_command(self, payload: bytes) -> None:
        try:
            self._commands.put_nowait(payload)
        except queue.Full:
            log.warning("command queue full; command dropped")

    def _command_loop(self) -> None:
        while True:
            payload = self._commands.get()
            if payload is None:
                return
            self.publisher.publish_result(self.commands.handle(payload).encode())

    def _housekeeping(self) -> None:
        last_status = self._mono()
        watchdog = sdnotify.watchdog_interval()
        last_ping = last_status
        while not self._stop.is_set():
            if watchdog is not None and self._mono() - last_ping >= watchdog:
                # pinged from the loop that moves batches: a stuck loop stops the pings
                sdnotify.notify("WATCHDOG=1")
                last_ping = self._mono()
            self._stop.wait(min(self.batcher.due_in(), 0.1) or 0.01)
            try:
                self.batcher.poll()
                self._spool_pending_events()
                if self.spool.memory_age > 0:
                    self.spool.flush_older(self._wall())
            except Exception:
                log.exception("cannot store a batch in the spool")
            now = self._mono()
            changed = self._changed.is_set()
            if changed:
                self._stop.wait(STATUS_DEBOUNCE)
                self._changed.clear()
            if changed or now - last_status >= self._status_interval:
                last_status = now
                try:
                    self.publisher.publish_status()
                except Exception:
                    log.exception("cannot publish status")
