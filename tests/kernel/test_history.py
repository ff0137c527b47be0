"""Cell sources never reach IPython's history file: they can hold personal data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faker import Faker
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

from tests.kernel.kernelspecs import existing_kernel_user, runnable_kernelspec


def run(client: BlockingKernelClient, code: str) -> str:
    """The cell's printed text; fails on an error."""
    texts: list[str] = []

    def keep(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            texts.append(str(message["content"]["text"]))

    reply = client.execute_interactive(code, output_hook=keep, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(texts)


def test_input_history_stays_in_memory_even_when_configured_to_a_file(tmp_path: Path) -> None:
    kernel = runnable_kernelspec(tmp_path, existing_kernel_user())
    shared = tmp_path / "history"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    history_file = shared / "history.sqlite"
    manager, client = start_new_kernel(
        kernel_name=kernel, extra_arguments=[f"--HistoryManager.hist_file={history_file}"]
    )
    email = Faker().email()
    try:
        run(client, f"contact = {email!r}")
        assert run(client, "print(get_ipython().history_manager.hist_file)").strip() == ":memory:"
        assert email in run(client, "%history -n 1")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)
    assert not history_file.exists()
