"""`tinygrad-lm assignments grade-class`: grade the class, then write the gradebook, the
similarity report and the class summary from every student's saved result."""

from __future__ import annotations

import os
import signal
import sys

from .class_grading import grade_class
from .class_report import write_summary
from .grade import GradeError, check_suite, default_suite
from .gradebook import write_gradebook
from .similarity import compare
from .similarity_report import write_similarity

EXIT_CANNOT_GRADE = 2
EXIT_INTERRUPTED = 130


def class_outputs(cls: dict, out: str, threshold: float = 0.5, title: str = "Coursework",
                  plot: bool = True) -> dict:
    """Write gradebook.csv, canvas.csv, similarity.csv/.html and summary.html/.png for a graded
    class (grade_class's result) into `out`; returns the similarity result and the paths."""
    paths = write_gradebook(cls, out, title)
    regions = check_suite(cls["suite"])
    submitted = {r["student"]: r["submission"] for r in cls["students"]
                 if r["status"] != "missing" and r.get("submission")
                 and os.path.exists(r["submission"])}
    sim = compare(submitted, cls["suite"], regions, [t.id for t in cls["tasks"]],
                  threshold=threshold)
    paths += write_similarity(sim, out)
    paths += write_summary(cls, out, plot=plot)
    return {"similarity": sim, "paths": paths}


def run_grade_class(args, only, tasks, students) -> int:
    """The subcommand: grade, write every output, print where they are."""
    if not 0 < args.threshold <= 1:
        print("cannot grade: --threshold is a share between 0 and 1 (e.g. 0.5)",
              file=sys.stderr)
        return EXIT_CANNOT_GRADE
    def stop(signum, frame):  # `kill` stops it as Ctrl-C does
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        cls = grade_class(args.submissions, args.suite or default_suite(), args.out, only,
                          tasks, args.timeout, args.memory_limit or None, args.jobs,
                          args.roster, students, args.force)
        done = class_outputs(cls, os.path.abspath(args.out), args.threshold, args.lms_title)
    except (GradeError, OSError) as e:
        print(f"cannot grade: {e}", file=sys.stderr)
        return EXIT_CANNOT_GRADE
    except KeyboardInterrupt:
        print("interrupted: every student graded so far keeps their result; run the same "
              "command again to grade the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    counts: dict[str, int] = {}
    for r in cls["students"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    flagged = [p for p in done["similarity"]["pairs"] if p["flagged"]]
    print(f"{len(cls['students'])} students ({len(cls['graded_now'])} graded now): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"{len(flagged)} pair(s) above the similarity threshold"
          + (": " + ", ".join(f"{p['a']}/{p['b']} {p['score']:.0%}" for p in flagged[:5])
             if flagged else ""))
    for path in done["paths"]:
        print(f"wrote {path}")
    return 0
