"""The pytest plugin of `tinygrad-lm assignments status`: each test's task markers, weight,
final outcome (after the copy's conftest has turned "needs an unwritten task" into a skip) and
the first lines of its failure, written as JSON to the path in TINYGRAD_LM_STATUS_OUT.

Loaded with `-p tinygrad_lm.course.assignments.status_plugin` by status.py, in the student's
own copy; it grades nothing (the grader has its own plugin and the teacher's tests).
"""

from __future__ import annotations

import json
import os
import re

_TASK = re.compile(r"a(\d+)_(\d+)")
MAX_MESSAGE = 1500
_items: dict[str, dict] = {}
_results: list[dict] = []
_errors: list[str] = []


def pytest_collection_modifyitems(config, items):
    """pytest hook: remember each test's tasks and weight by node id."""
    for item in items:
        tasks = sorted({f"{m[1]}.{m[2]}" for mark in item.iter_markers()
                        if (m := _TASK.fullmatch(mark.name))})
        weight = item.get_closest_marker("weight")
        callspec = getattr(item, "callspec", None)
        check = item.nodeid[:-len(callspec.id) - 2] if callspec is not None else item.nodeid
        _items[item.nodeid] = {"tasks": tasks, "check": check,
                               "weight": float(weight.args[0]) if weight else 1.0}


def _message(report) -> str:
    if report.skipped:
        text = report.longrepr[2] if isinstance(report.longrepr, tuple) else \
            str(report.longrepr)
        return text.removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    return (crash.message if crash is not None else str(report.longrepr))[:MAX_MESSAGE]


def pytest_runtest_logreport(report):
    """pytest hook: the final outcome of each test (its call, or a setup that did not pass)."""
    if report.nodeid not in _items:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _results.append({"nodeid": report.nodeid, **_items[report.nodeid],
                         "outcome": report.outcome,
                         "message": "" if report.passed else _message(report)})


def pytest_collectreport(report):
    """pytest hook: a test file that does not import."""
    if report.failed:
        _errors.append(f"{report.nodeid}: {str(report.longrepr)[-MAX_MESSAGE:]}")


def pytest_sessionfinish(session, exitstatus):
    """pytest hook: write what was recorded."""
    out = os.environ.get("TINYGRAD_LM_STATUS_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump({"tests": _results, "collect_errors": _errors}, f)
