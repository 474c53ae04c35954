"""Run `async def` tests here (pytest-jupyter's collection and call hooks, nothing else).

The Jupyter server fixtures are imported by test_restore_server.py itself, so that their
autouse clean-ups do not slow the engine tests in this folder down.
"""

from pytest_jupyter.jupyter_core import pytest_pycollect_makeitem, pytest_pyfunc_call  # noqa: F401
