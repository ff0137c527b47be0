"""``nbwarden run`` pieces that need no gateway: kernelspec guard, execution-id links."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nbformat
import pytest

from nbwarden.cli import main
from nbwarden.config import ConfigError, parse_config
from nbwarden.kernel.headless import HeadlessRun, link_execution_ids


def test_run_refuses_a_kernel_without_the_scrubbing_provisioner(tmp_path: Path) -> None:
    config = parse_config({}, base_dir=tmp_path)
    run = HeadlessRun(config, user="alice", purpose="p", kernel_name="python3")
    with pytest.raises(ConfigError, match="does not use the nbwarden-provisioner"):
        asyncio.run(run.execute(tmp_path / "nb.ipynb", tmp_path / "out.ipynb"))


def test_run_reports_a_missing_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(tmp_path / "absent.ipynb"), "--user", "a", "--purpose", "p"])
    assert code == 2
    assert "no such notebook" in capsys.readouterr().err


def test_execution_ids_in_outputs_are_copied_to_cell_metadata() -> None:
    nb = nbformat.v4.new_notebook()
    governed = nbformat.v4.new_code_cell("%%sql\nSELECT 1")
    governed.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="x"),
        nbformat.v4.new_output(
            "display_data",
            data={"text/plain": "1 row"},
            metadata={"nbwarden": {"execution_id": "e-1", "status": "ok"}},
        ),
    ]
    plain = nbformat.v4.new_code_cell("1 + 1")
    nb.cells = [governed, plain]
    assert link_execution_ids(nb) == ["e-1"]
    assert governed.metadata["nbwarden"] == {"execution_ids": ["e-1"]}
    assert "nbwarden" not in plain.metadata
