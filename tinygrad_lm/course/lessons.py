"""What every lesson shares: the quick switch, the figures folder and showing a figure.

A lesson runs three ways, and these helpers make it behave right in each:

- as a script (`python lessons/07_causal_self_attention.py`): figures are saved as PNG files
  under the figures folder and nothing opens a window;
- as a notebook (Jupyter, VS Code, Colab): figures display inline under the cell, and are saved
  too;
- in quick mode (`--quick` on the command line, or `LESSONS_QUICK=1` in the environment, as the
  test suite does): the same steps on smaller sizes, so the whole lesson runs in seconds.

The figures folder is `$LESSONS_OUT` when set, else `lessons/out/` under the working directory
when there is a `lessons/` folder there, else `lessons_out/` under the working directory. It is
resolved from the working directory rather than from the lesson's own path, because a notebook
has no `__file__` and a lesson may be moved anywhere.

Nothing is read at import: `QUICK` looks at the command line and the environment when a lesson
asks for it (`from tinygrad_lm.course.lessons import QUICK`), so importing this module from
anywhere else reads nothing.
"""

import os
import sys

__all__ = ["QUICK", "quick", "in_notebook", "out_dir", "figure_path", "pyplot", "show",  # noqa: F822
           "check"]  # QUICK comes from __getattr__ below


def quick() -> bool:
    """True when the lesson should run its small, seconds-long version (`--quick` among the
    command-line arguments, or LESSONS_QUICK set to anything but "" or "0")."""
    return "--quick" in sys.argv or os.environ.get("LESSONS_QUICK", "") not in ("", "0")


def __getattr__(name: str):
    # `QUICK` is computed on each lookup (PEP 562), so that importing the module reads nothing
    if name == "QUICK":
        return quick()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def in_notebook() -> bool:
    """True when running inside a Jupyter (IPython) kernel, where figures display inline."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    # a kernel's shell (Jupyter's ZMQInteractiveShell, Colab's subclass of it) has a kernel;
    # terminal IPython has none and keeps its own figure windows
    return ip is not None and ("IPKernelApp" in getattr(ip, "config", {})
                               or getattr(ip, "kernel", None) is not None)


def out_dir() -> str:
    """The folder figures are saved in (created on first use); see the module docstring."""
    path = os.environ.get("LESSONS_OUT")
    if not path:
        here = os.getcwd()
        lessons = os.path.join(here, "lessons")
        path = os.path.join(lessons, "out") if os.path.isdir(lessons) else os.path.join(
            here, "lessons_out")
    os.makedirs(path, exist_ok=True)
    return path


def figure_path(name: str) -> str:
    """Where a figure called `name` (for example "07_attention.png") is saved."""
    return os.path.join(out_dir(), name)


def pyplot():
    """matplotlib.pyplot, with a non-interactive backend when not in a notebook.

    A script must never open a window (it would block, or fail on a machine with no screen);
    a notebook keeps its own inline backend.
    """
    import matplotlib
    if not in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def show(fig, name: str) -> str:
    """Save `fig` as `name` under the figures folder; display it inline in a notebook.

    Returns the path written, so a lesson can print where its figure went.
    """
    path = figure_path(name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    if in_notebook():
        from IPython.display import display
        display(fig, metadata={"filename": name})  # the site names the figure by it
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


def check(name: str, attempt, solution, test, hint: str = "") -> bool:
    """Grade one exercise: say whether the student's `attempt` is right, never stop the lesson.

    `attempt` and `solution` are whatever the exercise asks for (usually functions); `test`
    takes one of them and returns True when it is right. The (hidden) solution is tested first
    and must pass: that keeps every exercise's check honest, since a lesson run in CI fails if
    a solution ever stops passing its own check. The attempt then gets one of three verdicts:

    - "not answered yet" when it raises NotImplementedError (the starter code does);
    - "right" when `test(attempt)` is True;
    - "not right yet", with the hint and any error message, otherwise.

    Returns True only for a right attempt.
    """
    if test(solution) is not True:
        raise AssertionError(f"Exercise {name}: the solution does not pass its own check")
    try:
        ok = test(attempt) is True
        error = ""
    except NotImplementedError:
        print(f"Exercise {name}: not answered yet. {hint}".rstrip())
        return False
    except Exception as exc:  # a student's bug must not stop the lesson
        ok, error = False, f" ({type(exc).__name__}: {exc})"
    if ok:
        print(f"Exercise {name}: right.")
    else:
        print(f"Exercise {name}: not right yet{error}. {hint}".rstrip())
    return ok
