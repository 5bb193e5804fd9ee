"""OpenControl hub: ingest, live signal store, storage, automation, websocket and Telegram."""

__version__ = "0.1.0"
