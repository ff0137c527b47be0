"""The nbwarden kernel speaks the Jupyter messaging protocol like any Python kernel.

Runs ``jupyter_kernel_test`` against the real kernelspec (and its provisioner) of this
checkout. Python cells need no gateway; governed cells are covered end to end elsewhere.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import jupyter_kernel_test

from nbwarden.kernel.client import GATEWAY_URL_ENV
from tests.kernel.kernelspecs import existing_kernel_user, runnable_kernelspec


class TestGovernedKernelConformance(jupyter_kernel_test.KernelTests):
    kernel_name = "nbwarden"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('oops', file=sys.stderr)"
    completion_samples = [{"text": "zi", "matches": {"zip"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]
    code_page_something = "zip?"
    code_generate_error = "raise ValueError('boom')"
    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "6*7", "result": "42"},
        {"code": "3-4", "result": "-1"},
    ]
    code_display_data = [
        {
            "code": "from IPython.display import HTML, display; display(HTML('<b>x</b>'))",
            "mime": "text/html",
        },
    ]
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "search")
    code_inspect_sample = "zip"
    code_clear_output = "from IPython.display import clear_output; clear_output()"

    @classmethod
    def setUpClass(cls) -> None:
        directory = Path(tempfile.mkdtemp(prefix="nbwarden-kernelspec-"))
        cls.kernel_name = runnable_kernelspec(directory, existing_kernel_user())
        super().setUpClass()

    def test_kernel_info_names_nbwarden(self) -> None:
        self.kc.kernel_info()
        reply = self.kc.get_shell_msg(timeout=30)
        assert reply["content"]["implementation"] == "nbwarden"

    def test_governed_magics_replace_local_shell_and_sql(self) -> None:
        reply, output = self.execute_helper(
            "ip = get_ipython()\n"
            "print(type(ip.find_cell_magic('sh').__self__).__name__,"
            " type(ip.find_cell_magic('sql').__self__).__name__)"
        )
        assert reply["content"]["status"] == "ok"
        assert "GovernedMagics GovernedMagics" in output[0]["content"]["text"]

    def test_sql_cell_without_assertion_is_refused_with_a_clear_error(self) -> None:
        reply, output = self.execute_helper(f"%env {GATEWAY_URL_ENV}=http://127.0.0.1:9\n")
        assert reply["content"]["status"] == "ok"
        reply, output = self.execute_helper("%%sql prod\nSELECT 1")
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "GatewayError"
        errors = [m for m in output if m["msg_type"] == "error"]
        assert "no identity assertion" in errors[0]["content"]["traceback"][0]
        assert len(errors[0]["content"]["traceback"]) == 1
