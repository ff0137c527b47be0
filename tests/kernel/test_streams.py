"""The kernel's output streams skip flushes with nothing to send; output keeps its order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

from tests.kernel.kernelspecs import existing_kernel_user, runnable_kernelspec

MIXED_CELL = """
import sys, threading
from IPython.display import display
print("one")
display({"text/plain": "two"}, raw=True)
print("three", file=sys.stderr)
display({"text/plain": "four"}, raw=True)
print("fi", end="")
print("ve", end="")
display({"text/plain": "six"}, raw=True)
thread = threading.Thread(target=print, args=("seven",))
thread.start()
thread.join()
display({"text/plain": "eight"}, raw=True)
"nine"
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockingKernelClient]:
    kernel = runnable_kernelspec(tmp_path_factory.mktemp("streams"), existing_kernel_user())
    manager, client = start_new_kernel(kernel_name=kernel)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def outputs(client: BlockingKernelClient, code: str) -> list[tuple[str, str]]:
    """The cell's outputs in the order they came: (stream name or message type, text)."""
    seen: list[tuple[str, str]] = []

    def keep(message: dict[str, Any]) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            seen.append((content["name"], content["text"]))
        elif message["msg_type"] in ("display_data", "execute_result"):
            seen.append((message["msg_type"], content["data"]["text/plain"]))

    reply = client.execute_interactive(code, output_hook=keep, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return seen


def test_the_kernel_streams_are_the_lazy_flushing_ones(client: BlockingKernelClient) -> None:
    shown = outputs(
        client, "import sys\nprint(type(sys.stdout).__name__, type(sys.stderr).__name__)"
    )
    assert shown == [("stdout", "LazyFlushStream LazyFlushStream\n")]


def test_printed_text_and_displays_keep_their_order(client: BlockingKernelClient) -> None:
    assert outputs(client, MIXED_CELL) == [
        ("stdout", "one\n"),
        ("display_data", "two"),
        ("stderr", "three\n"),
        ("display_data", "four"),
        ("stdout", "five"),
        ("display_data", "six"),
        ("stdout", "seven\n"),
        ("display_data", "eight"),
        ("execute_result", "'nine'"),
    ]


def test_text_without_a_line_break_arrives_before_the_reply(client: BlockingKernelClient) -> None:
    assert outputs(client, 'print("no line break", end="")') == [("stdout", "no line break")]
    assert outputs(client, "1 + 1") == [("execute_result", "2")]
