"""``python -m nbwarden.demo.jupyter_main [ARGS]``: JupyterLab, with the governed kernel usable.

In a source checkout no entry point declares ``nbwarden-provisioner``, and jupyter_client
hides a kernelspec whose provisioner it cannot find; registering it first keeps the
``nbwarden`` kernel visible. Installed packages declare it already (this is then a no-op).
"""

from __future__ import annotations


def main() -> None:
    from jupyterlab.labapp import main as lab_main

    from nbwarden.kernel.provisioner import register_provisioner

    register_provisioner()
    lab_main()


if __name__ == "__main__":
    main()
