"""``python -m nbwarden.kernel -f CONNECTION_FILE``: the kernelspec's command."""

from __future__ import annotations

from ipykernel.kernelapp import IPKernelApp

from nbwarden.kernel.kernel import GovernedKernel

IPKernelApp.launch_instance(
    kernel_class=GovernedKernel, outstream_class="nbwarden.kernel.streams.LazyFlushStream"
)
