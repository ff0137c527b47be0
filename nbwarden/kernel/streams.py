"""The kernel's ``sys.stdout`` and ``sys.stderr``."""

from __future__ import annotations

from ipykernel.iostream import OutStream


class LazyFlushStream(OutStream):
    """ipykernel's output stream, whose ``flush`` does nothing when nothing was written
    since the last one.

    ipykernel flushes both streams before each output it publishes, after each cell and
    before each reply, and a flush hands its work to the IOPub thread and waits for it:
    about ten thread round trips in a cell, each needed only when text is waiting. Text
    written after a flush sets the flag again, so it still reaches the front end before
    anything published after the next flush.
    """

    written_since_flush = False

    def write(self, string: str) -> int | None:  # type: ignore[override]
        written: int | None = super().write(string)
        self.written_since_flush = True
        return written

    def flush(self) -> None:
        if not self.written_since_flush:
            return
        self.written_since_flush = False
        super().flush()  # type: ignore[no-untyped-call]
