"""Kernelspecs the kernel tests can start, also when kernels run as another OS user."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from nbwarden.kernel.provisioner import DEFAULT_KERNEL_USER

REPO = Path(__file__).resolve().parents[2]
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))


def runnable_kernelspec(directory: Path, user: pwd.struct_passwd | None) -> str:
    """The nbwarden kernelspec, with an interpreter the kernel user can execute.

    This venv's interpreter may live under /root (mode 0700); then the system
    Python 3.11 runs the kernel with the venv's packages on PYTHONPATH.
    """
    if user is None or can_run_as(user, sys.executable, {}):
        return "nbwarden"
    interpreter = "/usr/bin/python3.11"
    env = {"PYTHONPATH": f"{REPO / 'tests' / '_offline'}:{SITE_PACKAGES}:{REPO}"}
    if not can_run_as(user, interpreter, env):
        pytest.skip("no Python interpreter with ipykernel that the kernel user can run")
    spec_dir = directory / "jupyter" / "kernels" / "nbwarden-as-user"
    spec_dir.mkdir(parents=True)
    spec = json.loads((REPO / "share/jupyter/kernels/nbwarden/kernel.json").read_text())
    spec["argv"][0] = interpreter
    spec["env"] = env
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    os.environ["JUPYTER_PATH"] = f"{directory / 'jupyter'}:{os.environ['JUPYTER_PATH']}"
    return "nbwarden-as-user"


def can_run_as(user: pwd.struct_passwd, interpreter: str, env: dict[str, str]) -> bool:
    try:
        done = subprocess.run(
            [interpreter, "-c", "import ipykernel, nbwarden.kernel"],
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin", **env},
            cwd="/",
            capture_output=True,
        )
    except OSError:
        return False
    return done.returncode == 0


def existing_kernel_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(DEFAULT_KERNEL_USER)
    except KeyError:
        return None
