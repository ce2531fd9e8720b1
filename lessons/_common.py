"""Shared by the lesson scripts: the output folder for figures and the --quick switch.

`python lessons/NN_name.py --quick` (or LESSONS_QUICK=1) runs a lesson in a few seconds, as the
test suite does; without it each lesson runs its full version (under a minute on 2 cores).
"""

import os
import sys

QUICK = "--quick" in sys.argv or os.environ.get("LESSONS_QUICK") == "1"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
os.makedirs(OUT, exist_ok=True)


def figure_path(name: str) -> str:
    return os.path.join(OUT, name)


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
