"""A pytest plugin used by the grader: records each test's task markers and outcome as JSON.

Loaded with `-p tinygrad_lm.assignments.pytest_plugin`; the output path comes from the
TINYGRAD_LM_GRADE_OUT environment variable set by the grader for its own subprocess only.
"""

from __future__ import annotations

import json
import os

import pytest

_results: list[dict] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        markers = sorted({m.name for m in item.iter_markers() if m.name[:1] == "a"
                          and m.name[1:].replace("_", "").isdigit()})
        text = str(report.longrepr) if report.failed else ""
        _results.append({"nodeid": item.nodeid, "markers": markers, "outcome": report.outcome,
                         "not_implemented": "NotImplementedError" in text,
                         "message": text.strip().splitlines()[-1][:300] if text else ""})


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("TINYGRAD_LM_GRADE_OUT")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(_results, f)
