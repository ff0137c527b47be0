"""Jupyter glue for the gateway: REST API, auth, websocket stamping, standalone service."""
