"""Bus owners: one object per physical bus serialises every request on it.

`modbus_rtu.RtuBus` (serial line, minimalmodbus), `modbus_tcp.TcpBus` (pyModbusTCP),
`shared.acquire_*` hands the same owner to every driver on the same port or host.
"""
