"""The governed kernel: ipykernel's IPython kernel with the nbwarden magics loaded."""

from __future__ import annotations

from typing import Any

from ipykernel.ipkernel import IPythonKernel
from ipykernel.zmqshell import ZMQInteractiveShell
from IPython.core.history import HistoryManager
from traitlets import Type

from nbwarden import __version__
from nbwarden.kernel.magics import GovernedMagics

IN_MEMORY = ":memory:"


class GovernedShell(ZMQInteractiveShell):
    """IPython's shell with its input history kept in memory for the kernel's life.

    IPython writes every cell's source to ``history.sqlite`` and keeps it for good. A
    governed cell's source can hold personal data (a name in a ``WHERE`` clause, an
    address in a ``grep``); the gateway records it masked, and an unmasked copy must not
    pile up beside it where no retention or erasure reaches. ``%history`` and the front
    end's history requests still work within the session. Set here, not in config, so an
    IPython profile cannot turn it back on.
    """

    def init_history(self) -> None:
        self.history_manager = HistoryManager(shell=self, parent=self, hist_file=IN_MEMORY)
        self.configurables.append(self.history_manager)  # type: ignore[arg-type]


class GovernedKernel(IPythonKernel):
    implementation = "nbwarden"
    implementation_version = __version__
    banner = "Python 3 (nbwarden): SQL and shell cells run through the nbwarden gateway"
    shell_class = Type(GovernedShell)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        load_ipython_extension(self.shell)


def load_ipython_extension(shell: Any) -> None:
    """Register the magics; they replace IPython's local ``%%sh`` and any JupySQL ``%%sql``."""
    shell.register_magics(GovernedMagics(shell))
