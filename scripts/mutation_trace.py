"""A pytest plugin for ``scripts/mutation.py``: which lines of one file each test runs.

Loaded (``-p mutation_trace``) in the clean run of a module's tests only. ``CONNEX_MUTATION_TRACE_FILE`` is the
file's path relative to the checkout (``connex_core/state/sqlite.py``); the lines each test reached (its set-up
and tear-down included, in every thread it started) are written as JSON to ``CONNEX_MUTATION_TRACE_OUT``:
``{node id: {"lines": [line, ...], "seconds": its duration}}``. A mutant is then run against the tests that reach its line instead of all of them.
Code run in a child process is not seen: a mutant those tests alone would kill survives the selection and is
run again against all the module's tests (see ``mutation.py``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Optional

import pytest

_SUFFIX = os.sep + os.environ.get("CONNEX_MUTATION_TRACE_FILE", "").replace("/", os.sep)
_hits: dict[str, set[int]] = {}
_seconds: dict[str, float] = {}
_current: Optional[set[int]] = None


def _local(frame, event, arg):
    if event == "line" and _current is not None:
        _current.add(frame.f_lineno)
    return _local


def _global(frame, event, arg):
    if not frame.f_code.co_filename.endswith(_SUFFIX):
        return None  # other files: no line events at all
    if _current is not None:
        _current.add(frame.f_lineno)
    return _local


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _current
    _current = _hits.setdefault(item.nodeid, set())
    sys.settrace(_global)
    threading.settrace(_global)
    start = time.perf_counter()
    try:
        yield
    finally:
        sys.settrace(None)
        threading.settrace(None)
        _current = None
        _seconds[item.nodeid] = time.perf_counter() - start


def pytest_sessionfinish(session):
    out = os.environ.get("CONNEX_MUTATION_TRACE_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump({node: {"lines": sorted(lines), "seconds": _seconds.get(node, 0.0)}
                       for node, lines in _hits.items()}, f)
