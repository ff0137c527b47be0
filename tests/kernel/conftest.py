"""Kernel tests find the ``nbwarden`` kernelspec in this checkout and its provisioner."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nbwarden.kernel.provisioner import register_provisioner

REPO = Path(__file__).resolve().parents[2]
KERNELSPEC_PATH = str(REPO / "share" / "jupyter")

os.environ["JUPYTER_PATH"] = os.pathsep.join(
    [KERNELSPEC_PATH, *filter(None, [os.environ.get("JUPYTER_PATH")])]
)
os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="nbwarden-test-ipython-")
"""Fresh IPython history per run: kernels started by these tests inherit it."""
register_provisioner()
