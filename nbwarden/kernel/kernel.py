"""The governed kernel: ipykernel's IPython kernel with the nbwarden magics loaded."""

from __future__ import annotations

from typing import Any

from ipykernel.ipkernel import IPythonKernel

from nbwarden import __version__
from nbwarden.kernel.magics import GovernedMagics


class GovernedKernel(IPythonKernel):
    implementation = "nbwarden"
    implementation_version = __version__
    banner = "Python 3 (nbwarden): SQL and shell cells run through the nbwarden gateway"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        load_ipython_extension(self.shell)


def load_ipython_extension(shell: Any) -> None:
    """Register the magics; they replace IPython's local ``%%sh`` and any JupySQL ``%%sql``."""
    shell.register_magics(GovernedMagics(shell))
