"""RTOC-compatible websocket server (see docs/websocket.md); `serve(service, ws_config)`."""
