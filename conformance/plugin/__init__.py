"""The pytest plugin (entry point ``pytest11``, module ``conformance.plugin``): options, case items, verdict, reports.

It is loaded by every pytest run in an environment where token-conformance is installed, so it stays inert until
conformance cases are collected, and it imports neither locust nor gevent. pytest reads hook functions and fixtures
from the module the entry point names: this one hands on those of the modules beside it, nothing more.
"""

from .collection import pytest_collection_modifyitems, pytest_pycollect_makeitem
from .fixtures import (
    prefetched,
    pytest_runtest_call,
    token_client,
    token_decoder,
    token_profile,
    token_server_url,
    token_target,
)
from .options import pytest_addoption
from .outcomes import pytest_runtest_makereport
from .reports import pytest_sessionfinish, pytest_sessionfinish_junit
from .scheduling import pytest_pyfunc_call, pytest_runtest_protocol, pytest_runtestloop
from .session import pytest_configure
from .terminal import pytest_terminal_summary, pytest_terminal_summary_root_causes

__all__ = [
    "prefetched",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_pycollect_makeitem",
    "pytest_pyfunc_call",
    "pytest_runtest_call",
    "pytest_runtest_makereport",
    "pytest_runtest_protocol",
    "pytest_runtestloop",
    "pytest_sessionfinish",
    "pytest_sessionfinish_junit",
    "pytest_terminal_summary",
    "pytest_terminal_summary_root_causes",
    "token_client",
    "token_decoder",
    "token_profile",
    "token_server_url",
    "token_target",
]
