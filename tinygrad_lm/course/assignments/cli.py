"""`tinygrad-lm assignments build|grade|grade-class|bundle|autograder|classroom|validate`.

Exit codes of `grade`: 0 when the run completed (and reached --pass-mark, if given), 1 when it
completed below the pass mark, 2 when it could not grade (a bad submission path, a bad suite).
`grade-class`: 0 when every student has a result, 2 when it could not start, 130 on Ctrl-C
(every student finished by then keeps their result).
"""

from __future__ import annotations

import os
import sys

from .build import build_student_copy
from .catalog import BY_ID, HANDOUTS
from .class_cli import run_grade_class
from .grade import DEFAULT_MEMORY_MB, GradeError, grade_submission
from .hints import HINTS
from .lesson_runs import run_lessons
from .lms import build_autograder, build_bundle, write_classroom
from .results import format_table, gradescope_results, junit_xml, write_json
from .status import (
    StatusError,
    format_status,
    next_hint,
    read_progress,
    status_report,
    write_progress,
)

EXIT_BELOW_PASS_MARK = 1
EXIT_CANNOT_GRADE = 2


def _only(text: str | None) -> set[int] | None:
    if not text:
        return None
    try:
        return {int(x) for x in text.split(",") if x.strip()}
    except ValueError:
        raise ValueError(f"--only takes assignment numbers like 1,2 (got {text!r})") from None


def _tasks(values) -> list[str] | None:
    if not values:
        return None
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def _no_repository(repo: str) -> str:
    """Why `repo` is not the reference repository, or ''."""
    if os.path.isdir(os.path.join(repo, "tinygrad_lm")):
        return ""
    where = "the current directory" if repo == "." else repo
    return (f"no repository found in {where} ({os.path.abspath(repo)} has no tinygrad_lm/ "
            "package): run this command in your clone of the reference repository, or name "
            "the clone with --repo PATH")


def _build(args, extra) -> int:
    problem = _no_repository(args.repo)
    if problem:
        print(f"cannot build: {problem}", file=sys.stderr)
        return EXIT_CANNOT_GRADE
    cut = build_student_copy(args.repo, args.out, _only(args.only))
    print(f"wrote a student copy to {args.out} with {len(cut)} tasks cut: {', '.join(cut)}")
    return 0


def _grade(args, extra) -> int:
    submission = args.submission or args.repo
    try:
        report = grade_submission(submission, args.suite, _only(args.only), _tasks(args.task),
                                  args.timeout, args.jobs, memory_mb=args.memory_limit or None)
    except (GradeError, OSError) as e:
        print(f"cannot grade: {e}", file=sys.stderr)
        if args.gradescope:
            write_json(args.gradescope, {"score": 0, "output": f"Cannot grade: {e}",
                                         "tests": []})
        return EXIT_CANNOT_GRADE
    print(format_table(report))
    for path, write in ((args.json, lambda p: write_json(p, report)),
                        (args.gradescope, lambda p: write_json(
                            p, gradescope_results(report, args.pass_mark))),
                        (args.junit, lambda p: open(p, "w", encoding="utf-8").write(
                            junit_xml(report)))):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            write(path)
            print(f"wrote {path}")
    if args.pass_mark is not None and report["score"] < args.pass_mark:
        print(f"score {report['score']:g} is below the pass mark {args.pass_mark:g}")
        return EXIT_BELOW_PASS_MARK
    return 0


def _grade_class(args, extra) -> int:
    return run_grade_class(args, _only(args.only), _tasks(args.task), _tasks(args.student))


def _bundle(args, extra) -> int:
    problem = _no_repository(args.repo)
    if problem:
        print(f"cannot bundle: {problem}", file=sys.stderr)
        return EXIT_CANNOT_GRADE
    manifest = build_bundle(args.repo, args.out, _only(args.only))
    print(f"wrote the grading suite for {len(manifest['tasks'])} tasks to {args.out}")
    return 0


def _autograder(args, extra) -> int:
    problem = _no_repository(args.repo)
    if problem:
        print(f"cannot write the autograder: {problem}", file=sys.stderr)
        return EXIT_CANNOT_GRADE
    manifest = build_autograder(args.repo, args.out, _only(args.only), args.timeout, args.jobs)
    print(f"wrote {args.out}: Gradescope autograder for {len(manifest['tasks'])} tasks, "
          f"{manifest['total_points']} points")
    return 0


def _classroom(args, extra) -> int:
    print(f"wrote {write_classroom(args.out, _only(args.only), args.timeout)}")
    return 0


def _validate(args, extra) -> int:
    try:
        from .validate import format_validation, validate
    except ImportError:
        print("validate needs the reference repository (a student copy has no bug corpus)",
              file=sys.stderr)
        return EXIT_CANNOT_GRADE
    result = validate(args.repo, jobs=args.jobs, names=_tasks(args.bug), timeout=args.timeout,
                      ends=not args.bugs_only)
    print(format_validation(result))
    return 0 if result["ok"] else 1


def _status(args, extra) -> int:
    root = os.path.abspath(args.repo)
    try:
        if args.hint:
            n, text = next_hint(root, args.hint)
            total = len(HINTS[args.hint])
            print(f"task {args.hint}, hint {n}/{total}: {text}")
            print("that was the last hint: the handout's section, "
                  f"{HANDOUTS[BY_ID[args.hint].assignment]}, has the derivation"
                  if n == total else f"(again for hint {n + 1}: tinygrad-lm assignments "
                  f"status --hint {args.hint})")
            return 0
        if args.lessons is not None:
            progress = read_progress(root)
            ran = run_lessons(root, args.timeout, args.lessons or None)
            if args.lessons:  # a few lessons again: keep the others' last results
                old = progress.get("lessons", {}).get("runs", {})
                ran["runs"] = {**(old if isinstance(old, dict) else {}), **ran["runs"]}
            progress["lessons"] = ran
            write_progress(root, progress)
        report = status_report(root, quick=not args.full, timeout=args.timeout)
    except StatusError as e:
        print(f"status: {e}", file=sys.stderr)
        return EXIT_CANNOT_GRADE
    print(format_status(report))
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    return 0


def add_parser(subparsers) -> None:
    """Add the `assignments` command (build, grade and the LMS outputs) to the CLI."""
    p = subparsers.add_parser("assignments", help="coursework: build, grade, LMS outputs")
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="write a student copy with solutions cut out",
                       description="Write the copy you hand out: the tracked files of the "
                       "reference repository with the solution regions replaced by starter "
                       "code, without hidden tests or the bug corpus.")
    b.add_argument("--out", required=True, help="the new folder for the copy (must not exist "
                   "or be empty, and lie outside the repository)")
    b.add_argument("--repo", default=".", help="the reference repository to cut it from "
                   "(default: the current directory)")
    b.add_argument("--only", help="cut only these assignments, e.g. 1,2 (default: all five); "
                   "the other tasks keep their solutions")
    b.set_defaults(handler=_build)

    g = sub.add_parser("grade", help="grade a submission with the teacher's tests")
    g.add_argument("submission", nargs="?", help="the student's copy (a directory)")
    g.add_argument("--repo", default=".", help="same as the positional submission")
    g.add_argument("--suite", help="grading suite: a bundle, or the reference repository "
                   "(default: the one this tinygrad_lm runs from)")
    g.add_argument("--only", help="score only these assignments, e.g. 1,2")
    g.add_argument("--task", action="append", help="score only these tasks, e.g. 2.1,2.5")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per task (60)")
    g.add_argument("--jobs", type=int, default=1, help="tasks graded at once (1)")
    g.add_argument("--json", help="write the full report as JSON")
    g.add_argument("--gradescope", help="write Gradescope's results.json here")
    g.add_argument("--junit", help="write JUnit XML here")
    g.add_argument("--pass-mark", type=float, help="exit 1 when the score is below it")
    g.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_MB, metavar="MB",
                   help="address space of each test process, in MiB (default "
                   f"{DEFAULT_MEMORY_MB}; 0: none); enforced on Linux only")
    g.set_defaults(handler=_grade)

    k = sub.add_parser("grade-class", help="grade a folder of submissions: gradebook, "
                       "feedback, similarity report, class summary",
                       description="Grade every submission in SUBMISSIONS (one folder, git "
                       "clone or zip per student, named by the student id, or mapped by "
                       "--roster), each in its own process, and write RESULTS: gradebook.csv, "
                       "canvas.csv, students/ID/report.json and feedback.md, similarity.html "
                       "and .csv, summary.html and .png. A second run regrades only students "
                       "whose submission or the suite changed.")
    k.add_argument("submissions", metavar="SUBMISSIONS",
                   help="the folder holding one folder or zip per student")
    k.add_argument("--out", required=True, metavar="RESULTS",
                   help="the results folder (created; kept between runs for resuming)")
    k.add_argument("--suite", help="grading suite: a bundle, or the reference repository "
                   "(default: the one this tinygrad_lm runs from)")
    k.add_argument("--only", help="grade only these assignments, e.g. 1,2 (default: the "
                   "bundle's manifest, else every task)")
    k.add_argument("--task", action="append", help="grade only these tasks, e.g. 2.1,2.5")
    k.add_argument("--roster", help="CSV with a `student` column (and optionally "
                   "submission, name, canvas_id, sis_user_id, sis_login_id, section); "
                   "students without a submission are listed as missing")
    k.add_argument("--student", action="append", metavar="ID",
                   help="regrade only these students (repeatable), whatever their hashes")
    k.add_argument("--force", action="store_true", help="regrade every student")
    k.add_argument("--jobs", type=int, default=1, help="students graded at once (1); each "
                   "runs one task at a time")
    k.add_argument("--timeout", type=float, default=60.0, help="seconds per task (60)")
    k.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_MB, metavar="MB",
                   help="address space of each test process, in MiB (default "
                   f"{DEFAULT_MEMORY_MB}; 0: none); enforced on Linux only")
    k.add_argument("--threshold", type=float, default=0.5, help="similarity share above "
                   "which a pair is flagged (0.5)")
    k.add_argument("--lms-title", default="Coursework", help="the assignment column's name "
                   "in canvas.csv (Coursework)")
    k.set_defaults(handler=_grade_class)

    n = sub.add_parser("bundle", help="write the grading suite (reference + all tests)")
    n.add_argument("--out", required=True, help="the new folder for the suite")
    n.add_argument("--repo", default=".", help="the reference repository (default: the "
                   "current directory)")
    n.add_argument("--only", help="the assignments the copies it grades have cut")
    n.set_defaults(handler=_bundle)

    a = sub.add_parser("autograder", help="write Gradescope's autograder.zip")
    a.add_argument("--out", default="autograder.zip", help="the zip to write "
                   "(autograder.zip)")
    a.add_argument("--repo", default=".", help="the reference repository (default: the "
                   "current directory)")
    a.add_argument("--only", help="the assignments set")
    a.add_argument("--timeout", type=float, default=60.0, help="seconds per task (60)")
    a.add_argument("--jobs", type=int, default=1, help="tasks graded at once (1)")
    a.set_defaults(handler=_autograder)

    c = sub.add_parser("classroom", help="write a GitHub Classroom grading workflow")
    c.add_argument("--out", required=True, help="the assignment's template repository")
    c.add_argument("--only", help="the assignments set")
    c.add_argument("--timeout", type=float, default=60.0, help="seconds per task (60)")
    c.set_defaults(handler=_classroom)

    v = sub.add_parser("validate", help="grade the planted-bug corpus, the starter and the "
                       "solution, and check each bug costs only its own task")
    v.add_argument("--repo", default=".", help="the reference repository (default: the "
                   "current directory)")
    v.add_argument("--bug", action="append", help="only these bugs (names)")
    v.add_argument("--bugs-only", action="store_true", help="skip the starter/solution runs")
    v.add_argument("--jobs", type=int, default=2, help="runs graded at once (2)")
    v.add_argument("--timeout", type=float, default=120.0, help="seconds per task (120)")
    v.set_defaults(handler=_validate)

    s = sub.add_parser("status", help="in your copy: every task's state and points from your "
                       "visible tests, the first failure, a hint, and what to do next")
    s.add_argument("--repo", default=".", help="your copy (default: here)")
    s.add_argument("--json", help="also write the report as JSON")
    s.add_argument("--hint", metavar="TASK", help="show the next hint of TASK (e.g. 2.3)")
    s.add_argument("--full", action="store_true", help="run the slow tests too")
    s.add_argument("--lessons", nargs="*", metavar="NN",
                   help="also run the lessons in quick mode (all: minutes; or those whose "
                   "file names start with NN, e.g. --lessons 03 09) and record which end")
    s.add_argument("--timeout", type=float, default=600.0, help="seconds for the tests (600)")
    s.set_defaults(handler=_status)
