"""The governed ``nbwarden`` kernel: IPython with SQL and shell cells run by the gateway.

User Python runs as usual inside the kernel, which holds no credential. ``%%sql`` and
``%%sh`` cells are sent over HTTP to the gateway with the identity assertion the
server stamped on the cell; what comes back is already masked.
"""

from __future__ import annotations

from nbwarden.kernel.client import GatewayClient, GatewayError

__all__ = ["GatewayClient", "GatewayError"]
