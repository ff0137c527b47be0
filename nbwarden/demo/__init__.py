"""``nbwarden demo``: a synthetic "production" database, a demo config and notebook, and
a JupyterLab with the nbwarden server extension and three role logins."""

from __future__ import annotations


class DemoError(Exception):
    """The demo cannot be prepared or started; the message is safe to show."""
