"""The grader's pytest plugin: records each test's task markers, its check (the test function)
and weight, its outcome and failure text, the collection errors, and the sha256 of every
package file the run imported, as JSON.

Loaded with `-p tinygrad_lm.course.assignments.pytest_plugin` from the grading tree (the teacher's
copy of the package, never the submission's). The output path comes from the
TINYGRAD_LM_GRADE_OUT environment variable set by the grader for its own subprocess; the plugin
takes it out of the environment at start-up, so the code under test does not see it.

Grading grades only the student's code: a test fails, whatever it asserted, when during it a
stand-in for an unwritten task ran (tinygrad_lm/course/stand_ins.py counts them; off in the
grading tree, but code under test could switch them on) or the engine let any unfinished code
give way to its fallback (kernels.unfinished_replacements: code under test could install a
policy of its own). A skipped test (whatever skipped it) scores 0 like a failed one.
While this plugin is loaded, the suite's conftest never turns a failure into a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import pytest

from ...kernels import unfinished_replacements
from .. import stand_ins

_results: list[dict] = []
_errors: list[str] = []
_out: str | None = None
_stand_ins_seen = 0
MAX_MESSAGE = 2000


def _task_markers(item) -> list[str]:
    return sorted({m.name for m in item.iter_markers()
                   if m.name == "hidden" or (m.name[:1] == "a"
                                             and m.name[1:].replace("_", "").isdigit())})


def _check(item) -> str:
    """The test function a case belongs to: its node id without the parametrization."""
    callspec = getattr(item, "callspec", None)
    suffix = f"[{callspec.id}]" if callspec is not None else ""
    return item.nodeid[:-len(suffix)] if suffix and item.nodeid.endswith(suffix) else \
        item.nodeid


def check_weight(item) -> float:
    """A test's `weight(k)` marker (default 1): its check counts k times in its task's points
    (see weights.py). Raises pytest.UsageError for a weight that is not a positive number."""
    mark = item.get_closest_marker("weight")
    if mark is None:
        return 1.0
    k = mark.args[0] if len(mark.args) == 1 and not mark.kwargs else None
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k < float("inf"):
        raise pytest.UsageError(f"{item.nodeid}: the weight marker takes one positive number, "
                                f"as in @pytest.mark.weight(2) (got {mark.args}, {mark.kwargs})")
    return float(k)


def pytest_collection_modifyitems(config, items):
    """pytest hook: every case of a check must carry the same weight (a weight is the check's,
    not a case's)."""
    seen: dict[str, float] = {}
    try:
        for item in items:
            k = check_weight(item)
            if seen.setdefault(_check(item), k) != k:
                raise pytest.UsageError(f"{item.nodeid}: weight {k:g} differs from the other "
                                        f"cases of {_check(item)} ({seen[_check(item)]:g}); "
                                        "mark the test function, not one case")
    except pytest.UsageError as e:
        _errors.append(f"the grading suite's weights are wrong: {e}")
        raise


def _message(report) -> str:
    if report.skipped:  # whoever skipped it (a test's own skip, code under test): no credit
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else \
            str(report.longrepr)
        return f"{reason[:MAX_MESSAGE // 2]} (a skipped test scores 0 in grading)"
    if not report.failed:
        return ""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(report.longrepr)
    tail = "\n".join(text.strip().splitlines()[-12:])
    head = f"{crash.message}\n" if crash is not None else ""
    return (head + tail)[-MAX_MESSAGE:]


def pytest_configure(config):
    """pytest hook: read where the results go (TINYGRAD_LM_GRADE_OUT)."""
    global _out
    _out = os.environ.pop("TINYGRAD_LM_GRADE_OUT", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """pytest hook: record each test's outcome and task markers; a test during which a stand-in
    ran fails."""
    global _stand_ins_seen
    outcome = yield
    report = outcome.get_result()
    # the course's stand-ins, and any fallback the engine granted unfinished code (whatever
    # policy code under test may have installed)
    used = sum(stand_ins.uses.values()) + unfinished_replacements()
    if used > _stand_ins_seen:
        _stand_ins_seen = used
        if report.when in ("setup", "call"):
            report.outcome = "failed"
            report.longrepr = (f"a stand-in ran in place of unwritten code "
                               f"({dict(stand_ins.uses)}): grading uses only your code")
    if report.when == "call" or (report.when == "setup" and not report.passed):
        text = str(report.longrepr) if report.failed else ""
        _results.append({"nodeid": item.nodeid, "markers": _task_markers(item),
                         "check": _check(item), "weight": check_weight(item),
                         "outcome": report.outcome,
                         "not_implemented": "NotImplementedError" in text,
                         "message": _message(report)})


def pytest_collectreport(report):
    """pytest hook: record a collection error (the code did not import)."""
    if report.failed:
        _errors.append(f"{report.nodeid}: {str(report.longrepr)[-MAX_MESSAGE:]}")


def _imported_files(root: str) -> dict[str, str]:
    found = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and os.path.abspath(path).startswith(root + os.sep):
            with open(path, "rb") as f:
                rel = os.path.relpath(os.path.abspath(path), os.path.dirname(root))
                found[rel.replace(os.sep, "/")] = hashlib.sha256(f.read()).hexdigest()
    return found


def pytest_sessionfinish(session, exitstatus):
    """pytest hook: write the results and the hashes of the package files the run imported, for
    the grader to check.
    """
    if not _out:
        return
    import tinygrad_lm
    root = os.path.dirname(os.path.abspath(tinygrad_lm.__file__))
    with open(_out, "w", encoding="utf-8") as f:
        json.dump({"tests": _results, "collect_errors": _errors,
                   "package": root, "imported": _imported_files(root)}, f)
