import importlib.util
import re

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm import kernels
from tinygrad_lm.course import stand_ins
from tinygrad_lm.course.assignments.hints import failure_lines
from tinygrad_lm.course.stand_ins import forbid_stand_ins, needs_task_reason, unwritten_task

BACKENDS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") else [])


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test once per kernel backend."""
    with tg.use_backend(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _restore_backend():
    previous = kernels.get_backend()
    yield
    kernels.set_backend(previous)


TASK_MARKER = re.compile(r"a(\d+)_(\d+)")
GRADER_PLUGIN = "tinygrad_lm.course.assignments.pytest_plugin"


def tasks_of(node) -> set[str]:
    """The coursework tasks a test is marked with (a2_5 -> 2.5)."""
    return {f"{m[1]}.{m[2]}" for mark in node.iter_markers()
            if (m := TASK_MARKER.fullmatch(mark.name))}


@pytest.fixture(autouse=True)
def _no_stand_in_for_the_task_under_test(request):
    """In a student copy, unwritten tasks have stand-ins (tinygrad_lm/course/stand_ins.py),
    but a test of task X.Y always meets the student's own X.Y code: it fails until X.Y is
    written."""
    with forbid_stand_ins(tasks_of(request.node)):
        yield


def in_student_copy(config) -> bool:
    """A student's copy run by the student: stand-ins on and not under the grader's plugin.
    The reference repository has STAND_INS False; grading runs in the teacher's tree with the
    plugin loaded."""
    return stand_ins.STAND_INS and not config.pluginmanager.hasplugin(GRADER_PLUGIN)


@pytest.fixture
def skip_if_unwritten(request):
    """`skip_if_unwritten(failure)`: in a student copy, skip the test when `failure` (an
    exception, or the text of one, such as a notebook's traceback) stopped at the starter of an
    unwritten task; elsewhere do nothing (the caller then fails as usual)."""
    def check(failure):
        if in_student_copy(request.config):
            found = unwritten_task(failure, tasks_of(request.node))
            if found is not None:
                pytest.skip(needs_task_reason(*found))
    return check


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In a student copy, a test that stops at the starter of an unwritten task it does not
    test skips, naming the task and its handout, instead of failing with a traceback (the tests
    of that task itself still fail until it is written). Nowhere else: the reference repository
    and grading see the failure."""
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call") or not report.failed or call.excinfo is None:
        return
    if not in_student_copy(item.config):
        return
    found = unwritten_task(call.excinfo.value, tasks_of(item))
    if found is not None:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0,
                           "Skipped: " + needs_task_reason(*found))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """In a student copy, a run with failed coursework tests ends with each task's first
    hint."""
    if not in_student_copy(config):
        return
    failed = terminalreporter.stats.get("failed", [])
    tasks = {f"{m[1]}.{m[2]}" for r in failed for k in r.keywords
             if (m := TASK_MARKER.fullmatch(k))}
    lines = failure_lines(tasks)
    if lines:
        terminalreporter.section("hints")
        for line in lines:
            terminalreporter.write_line(line)
