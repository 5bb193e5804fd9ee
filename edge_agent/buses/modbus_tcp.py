"""Modbus TCP: one pyModbusTCP client per host:port under the bus lock, with reconnects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge_agent.drivers.base import DriverError, DriverUnavailable

from .modbus_base import ModbusBus


class TcpBus(ModbusBus):
    """Owner of one Modbus TCP connection; units behind a gateway share it.

    After a transaction-id mismatch (a late answer to an earlier, timed-out request)
    the socket is dropped and the request is sent again once on a fresh connection, so
    a stale frame can never be taken for the answer to a later request.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int = 502,
        timeout: float = 2.0,
        clock: Callable[[], float] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        super().__init__(
            name=f"modbus-tcp {host}:{port}",
            clock=clock,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
        )
        self.host = host
        self.port = port
        self.timeout = timeout
        self._client: Any = None

    def _get_client(self) -> Any:
        if self._client is None:
            from pyModbusTCP.client import ModbusClient

            self._client = ModbusClient(
                host=self.host, port=self.port, timeout=self.timeout, auto_open=True
            )
        return self._client

    def _call(self, unit: int, fn: Callable[[Any], Any]) -> Any:
        from pyModbusTCP import constants as c

        client = self._get_client()
        client.unit_id = unit
        for attempt in (1, 2):
            result = fn(client)
            if result is not None and result is not False:
                return result
            err = client.last_error
            if err == c.MB_EXCEPT_ERR:
                raise DriverError(f"device refused the request: {client.last_except_as_txt}")
            client.close()  # never reuse a socket that may still carry a late answer
            if err == c.MB_RECV_ERR and attempt == 1:
                self.stats.reconnects += 1  # transaction-id mismatch: retry on a new socket
                continue
            if err in (c.MB_CONNECT_ERR, c.MB_RESOLVE_ERR):
                raise DriverUnavailable(f"cannot connect: {client.last_error_as_txt}")
            if err in (c.MB_TIMEOUT_ERR, c.MB_SOCK_CLOSE_ERR, c.MB_SEND_ERR, c.MB_RECV_ERR):
                raise DriverUnavailable(f"no valid answer: {client.last_error_as_txt}")
            raise DriverError(f"request failed: {client.last_error_as_txt}")
        raise AssertionError("unreachable")

    def _read(self, unit: int, kind: str, address: int, count: int) -> list[Any]:
        method = {
            "holding": "read_holding_registers",
            "input": "read_input_registers",
            "coil": "read_coils",
            "discrete": "read_discrete_inputs",
        }[kind]
        return self._call(unit, lambda cl: getattr(cl, method)(address, count))

    def _write_registers(self, unit: int, address: int, values: list[int]) -> None:
        if len(values) == 1:
            self._call(unit, lambda cl: cl.write_single_register(address, values[0]))
        else:
            self._call(unit, lambda cl: cl.write_multiple_registers(address, list(values)))

    def _write_coil(self, unit: int, address: int, value: bool) -> None:
        self._call(unit, lambda cl: cl.write_single_coil(address, bool(value)))

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
