"""RTOC-compatible websocket server (see docs/websocket.md); `serve(hub, ws_config)`."""
