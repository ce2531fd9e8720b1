"""Stand-ins for coursework tasks a student has not written yet, so a student copy still runs.

The reference repository never calls anything here: the engine does not know the course exists.
A student copy (`tinygrad-lm assignments build`) gets its calls from text declared in the
reference source beside the code it stands in for (course/assignments/build.py reads it):

  * a region's starter, the `# STARTER:` lines inside `# BEGIN ASSIGNMENT X.Y`, which the copy
    has in place of the solution: `return unfinished(STARTER_ERROR, "a constant learning
    rate", lambda: lr)` (the engine's `kernels.unfinished`; the copy writes the task's starter
    NotImplementedError for STARTER_ERROR) runs the stand-in where the policy below lets it,
    and otherwise raises that error, as a plain starter does. The engine modules name only
    the engine's hook, never this module;
  * the engine's policy for unfinished code (`kernels.set_unfinished_policy`), which this
    module installs when it is imported (a copy's tinygrad_lm/__init__.py imports it). Besides
    those starters, a Numba kernel's starter is compiled code that can only raise, and the 5.5
    starter sits deep inside a forward pass; the engine asks the policy, where such code
    raises NotImplementedError, whether the reference kernel (or generation without the
    cache) may run instead: `unfinished_policy` says yes to a starter's own stand-in, to a
    coursework kernel's own task's starter, or to any starter under cached generation, and
    only where a stand-in may run.

What runs in place of an unwritten task is code the copy holds anyway, never the task's answer,
and it says so once on stderr; `tinygrad-lm train`, the README's commands and the lessons then
keep working while an assignment is unfinished:

    3.1-3.4  the Numba softmax and LayerNorm kernels  the NumPy reference kernel (the spec)
    4.2      spelled-out multi-head attention         the fused op F.causal_attention (numba
                                                      backend; not with a KV cache or weights)
    5.2      the warmup + cosine schedule             a constant learning rate
    5.3/5.4  top-k / top-p filtering                  no filtering
    5.5      the KV cache (and 4.2 under a cache)     generation without the cache

The other tasks (the autograd core, the op backward passes, the causal mask, the Transformer
block, AdamW) have no stand-in that would not be their answer: their starter raises
NotImplementedError naming the task and its handout.

Where no stand-in fits, a test of *other* work that stops at an unwritten task's starter is
skipped in a student copy, with the reason naming the task and its handout (tests/conftest.py,
unwritten_task and needs_task_reason below), instead of failing with a traceback; in the
reference repository and in grading it runs and fails as any test does.

What a stand-in never does is earn marks. A test of task X.Y never gets a stand-in for X.Y
(tests/conftest.py forbids it), and grading never gets one at all: the grading tree is the
teacher's, where STAND_INS is False and no `STUDENT COPY` line is code, and the grader's pytest
plugin fails any test during which a stand-in ran. A student copy has STAND_INS = True.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections import Counter

from ..generation.generate import CACHED_GENERATION
from ..kernels import set_unfinished_policy, unfinished
from ..kernels.wrappers import STAND_IN
from .assignments.catalog import starter_message

# STUDENT COPY INSTEAD: STAND_INS = True  # a student copy (the reference repository has False)
STAND_INS = False  # the reference repository has nothing unfinished; a student copy: True
_forbidden: frozenset[str] = frozenset()
_told: set[str] = set()
uses: Counter = Counter()  # task id -> how many times its stand-in ran in this process

STARTER_MESSAGE = re.compile(r"^Assignment (\d+\.\d+): ")


def set_stand_ins(enabled: bool) -> bool:
    """Switch stand-ins on or off for every task; returns the previous setting."""
    global STAND_INS
    previous, STAND_INS = STAND_INS, bool(enabled)
    return previous


@contextlib.contextmanager
def use_stand_ins(enabled: bool = True):
    """`with use_stand_ins(False):` runs the block with stand-ins off (or on)."""
    previous = set_stand_ins(enabled)
    try:
        yield
    finally:
        set_stand_ins(previous)


@contextlib.contextmanager
def forbid_stand_ins(task_ids):
    """No stand-in for these task ids inside the block (a test of a task meets its code)."""
    global _forbidden
    previous, _forbidden = _forbidden, _forbidden | frozenset(task_ids)
    try:
        yield
    finally:
        _forbidden = previous


def may_stand_in(task_id: str, instead: str) -> bool:
    """True when `instead` may run in place of the unwritten task `task_id`: stand-ins are on
    and not forbidden for it. Tells the student once per task (on stderr) and counts the use."""
    if not STAND_INS or task_id in _forbidden:
        return False
    uses[task_id] += 1
    if task_id not in _told:
        _told.add(task_id)
        print(f"tinygrad_lm: task {task_id} is not written yet, so {instead} runs in its place "
              f"until you write it (see assignments/README.md). Tests of task {task_id} and "
              "grading never use this stand-in.", file=sys.stderr)
    return True


def stand_in(task_id: str, instead: str, run, *args, **kwargs):
    """What a starter with a stand-in does, by task id: `run(*args, **kwargs)` when it may
    stand in for the unwritten task (see may_stand_in), else the task's starter
    NotImplementedError. `run` None: no stand-in fits this call (4.2 under a KV cache, say), so
    the starter raises. (A copy's starters call the engine's `unfinished` with the error
    itself, which asks unfinished_policy below: the same decision.)"""
    return unfinished(NotImplementedError(starter_message(task_id)), instead, run, *args,
                      **kwargs)


def starter_task(error: BaseException) -> str | None:
    """The task id of a starter's NotImplementedError ("Assignment 3.3: ..."), else None."""
    found = isinstance(error, NotImplementedError) and STARTER_MESSAGE.match(str(error))
    return found.group(1) if found else None


# The Numba kernels whose compiled loops are coursework, by the task that writes them (the
# attention's backward runs 3.2's loop). Where one raises its task's starter, the reference
# kernel of the same name (the specification) may stand in.
KERNEL_TASKS = {"softmax_forward": "3.1", "softmax_backward": "3.2", "attention_backward": "3.2",
                "layernorm_forward": "3.3", "layernorm_backward": "3.4"}


def unfinished_policy(error: NotImplementedError, where: str) -> bool:
    """The engine's unfinished-code policy (kernels.set_unfinished_policy) for coursework: a
    starter's stand-in (kernels.unfinished) runs in place of its task; a compiled kernel of
    KERNEL_TASKS that raises its own task's starter gives way to the NumPy reference kernel;
    generation's cached step that stops at any starter (5.5, the cache, or 4.2, the
    spelled-out attention, the only path a cache can take) gives way to generation without the
    cache, recomputing the window at every step, which gives the same tokens. Only where a
    stand-in may run (may_stand_in); any other error propagates."""
    task = starter_task(error)
    if task is None:
        return False
    if where.startswith(STAND_IN):  # a starter's own stand-in (kernels.unfinished)
        return may_stand_in(task, where.removeprefix(STAND_IN))
    if where == CACHED_GENERATION:
        return may_stand_in(task, "generation without the KV cache")
    return KERNEL_TASKS.get(where) == task and may_stand_in(
        task, f"the NumPy reference kernel {where}")


set_unfinished_policy(unfinished_policy)  # inert in the reference: STAND_INS is False there


STARTER_IN_TEXT = re.compile(r"NotImplementedError: (Assignment (\d+\.\d+): [^\n]*)")
HANDOUT = re.compile(r"see (assignments/[\w.-]+\.md)")


def unwritten_task(failure, own_tasks=()) -> tuple[str, str] | None:
    """(task id, starter message) of the unwritten task a failure stopped at: a starter's
    NotImplementedError (or one in the cause/context chain of `failure`), or a starter's
    message in a failure's text (a lesson run in a notebook kernel); None when the failure is
    anything else or the task is one of `own_tasks` (a test of a task fails until it is
    written)."""
    if isinstance(failure, str):
        for m in STARTER_IN_TEXT.finditer(failure):
            if m.group(2) not in own_tasks:
                return m.group(2), m.group(1)
        return None
    seen: set[int] = set()
    while failure is not None and id(failure) not in seen:
        seen.add(id(failure))
        task = starter_task(failure)
        if task is not None and task not in own_tasks:
            return task, str(failure)
        failure = failure.__cause__ or failure.__context__
    return None


def needs_task_reason(task_id: str, message: str) -> str:
    """Why a test of other work skips in a student copy: "needs task 1.2
    (assignments/01_autograd.md), which this copy asks you to write"."""
    handout = HANDOUT.search(message)
    return (f"needs task {task_id}" + (f" ({handout.group(1)})" if handout else "")
            + ", which this copy asks you to write; it runs once that task is written")
