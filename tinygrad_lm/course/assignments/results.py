"""Scores of one task from its test run, and the grading report in the formats courses use:
a table for the terminal, Gradescope's results.json and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from fractions import Fraction

from .catalog import HIDDEN_MARKER, Task
from .sources import TaskSource
from .weights import check_of, fraction_text, shares


def _verify(run: dict, src: TaskSource) -> str:
    """Why the run does not prove it graded the submitted code, or ''."""
    for rel, digest in src.sha256.items():
        seen = run.get("imported", {}).get(rel)
        if seen is None:
            return f"the tests never imported {rel}, so they did not run the submitted code"
        if seen != digest:
            return f"{rel} changed while the tests ran (sha256 {seen[:12]}, graded {digest[:12]})"
    return ""


def score_task(task: Task, run: dict | None, src: TaskSource, error: str = "") -> dict:
    """The row of one task: each test's share of the points (weights.py) and what it scored,
    the task's exact score (0 on any error), its status, the first failure's message and the
    task's hint when it did not pass.
    """
    tests = []
    if run is not None and not error:
        error = _verify(run, src)
        tests = [{"name": r["nodeid"], "check": check_of(r), "weight": r.get("weight", 1.0),
                  "outcome": r["outcome"], "message": r["message"],
                  "hidden": HIDDEN_MARKER in r["markers"]}
                 for r in run["tests"] if task.marker in r["markers"]]
    exact = Fraction(0)
    for t, share in zip(tests, shares(tests, task.points)):
        won = share if t["outcome"] == "passed" and not error else Fraction(0)
        exact += won
        t.update(max_score=float(share), score=float(won))
    passed = sum(t["outcome"] == "passed" for t in tests)
    total = len(tests)
    failed = [t for t in tests if t["outcome"] != "passed"]
    if error:
        status, message = ("not attempted" if error.startswith("not attempted") else "error",
                           error)
    elif failed:
        status = "failed"
        visible = [t for t in failed if not t["hidden"]]
        first = visible[0] if visible else None
        message = (f"{len(failed)} of {total} tests failed"
                   + (f" ({len(failed) - len(visible)} hidden)" if len(visible) < len(failed)
                      else "")
                   + (f"; first: {first['name'].split('::')[-1]}\n{first['message']}"
                      if first else ""))
    else:
        status, message = "passed", ""
    return {"task": task.id, "description": task.description, "points": float(exact),
            "points_exact": fraction_text(exact), "max_points": task.points,
            "status": status, "passed": passed, "total": total,
            "hidden_total": sum(t["hidden"] for t in tests),
            "hidden_failed": sum(t["hidden"] for t in failed),
            "message": message, "hint": task.hint if status != "passed" else "",
            "notes": list(src.notes), "graded_files": src.sha256, "tests": tests}


def total_score(rows: list[dict]) -> Fraction:
    """The exact sum of the tasks' scores."""
    return sum((Fraction(r["points_exact"]) for r in rows), Fraction(0))


def shown(x: float) -> str:
    """A score for display: two decimals at most."""
    return f"{round(x, 2):g}"


def lost_by_check(row: dict) -> list[str]:
    """One line per check that lost points: its failed cases and the points they cost (hidden
    checks by number only)."""
    lines, hidden = [], {}
    for t in row["tests"]:
        if t["hidden"]:
            hidden.setdefault(t["check"], len(hidden) + 1)
    checks: dict[str, list[dict]] = {}
    for t in row["tests"]:
        checks.setdefault(t["check"], []).append(t)
    for check, cases in checks.items():
        bad = [t for t in cases if t["outcome"] != "passed"]
        if bad:
            name = (f"hidden check {hidden[check]}" if cases[0]["hidden"]
                    else check.split("::")[-1])
            lost = sum(t["max_score"] for t in bad)
            lines.append(f"{name}: {len(bad)} of {len(cases)} case(s) failed, "
                         f"-{shown(lost)} of {shown(sum(t['max_score'] for t in cases))}")
    return lines


def format_table(report: dict) -> str:
    """The grade report as a text table, one task per line, with the checks that lost points
    and the failure messages."""
    lines = [f"{'task':<6}{'tests':>9}{'points':>14}  status", "-" * 72]
    for r in report["tasks"]:
        lines.append(f"{r['task']:<6}{r['passed']:>4}/{r['total']:<4}"
                     f"{shown(r['points']):>8}/{r['max_points']:<5}  {r['status']}")
        lines += ["        lost: " + x for x in lost_by_check(r)[:12]]
        if r["message"]:
            lines += ["        " + x for x in r["message"].splitlines()[:14]]
        if r["hint"]:
            lines.append(f"        hint: {r['hint']}")
        lines += [f"        note: {n}" for n in r["notes"]]
    lines += ["-" * 72, f"total{'':>11}{shown(report['score']):>8}/{report['max_score']}"]
    lines.append(f"tasks chosen by {report['tasks_chosen_by']}")
    if report["ignored_files"]:
        lines.append("not used by the grader (only the code between the markers counts): "
                     + ", ".join(report["ignored_files"][:12])
                     + (" ..." if len(report["ignored_files"]) > 12 else ""))
    return "\n".join(lines)


def _task_summary(r: dict) -> str:
    """A task's line in Gradescope's overall output: score, failures, hint, notes (never the
    names or messages of hidden tests)."""
    parts = [f"{r['task']} {r['description']}: {shown(r['points'])} / {r['max_points']}, "
             + (f"{r['passed']}/{r['total']} tests passed ({r['hidden_total']} of them hidden)."
                if r["total"] else "no test ran.")]
    parts += ["  lost: " + x for x in lost_by_check(r)]
    if r["status"] in ("error", "not attempted"):
        parts.append("  " + r["message"].replace("\n", "\n  "))
    if r["hint"]:
        parts.append(f"  Hint: {r['hint']}")
    parts += [f"  Note: {n}" for n in r["notes"]]
    if r["graded_files"]:
        parts.append("  Graded: " + ", ".join(f"{p} sha256 {h[:16]}"
                                              for p, h in r["graded_files"].items()))
    return "\n".join(parts)


def _gradescope_tests(r: dict) -> list[dict]:
    """One Gradescope test per test case with its share of the task's points, the visible ones
    first; a hidden test by number only; a task that did not run is one entry worth its
    points."""
    if not r["tests"]:
        return [{"name": f"{r['task']} {r['description']}", "number": r["task"],
                 "score": r["points"], "max_score": r["max_points"], "status": "failed",
                 "output": "\n".join(x for x in (r["message"], r["hint"] and
                                                 f"Hint: {r['hint']}") if x),
                 "visibility": "visible"}]
    entries, hidden = [], 0
    ordered = [t for t in r["tests"] if not t["hidden"]] + [t for t in r["tests"] if t["hidden"]]
    for i, t in enumerate(ordered):
        ok = t["outcome"] == "passed"
        if t["hidden"]:
            hidden += 1
            name, output = f"{r['task']} hidden test {hidden}", "" if ok else \
                "A hidden test failed: it checks this task on other shapes, seeds or settings."
        else:
            name, output = f"{r['task']} {t['name'].split('::', 1)[-1]}", "" if ok else \
                t["message"]
        if not ok and r["hint"]:
            output += f"\nHint: {r['hint']}"
        entries.append({"name": name, "number": f"{r['task']}.{i + 1}", "score": t["score"],
                        "max_score": t["max_score"], "status": "passed" if ok else "failed",
                        "output": output, "visibility": "visible"})
    return entries


def gradescope_results(report: dict, pass_mark: float | None = None) -> dict:
    """Gradescope's results.json: the exact total score, the run's time, an overall output
    with a summary per task, and one test entry per test case carrying its share of the
    task's points (`max_score`, weights.py) and what it scored."""
    output = [f"Score {shown(report['score'])} / {report['max_score']}."]
    if pass_mark is not None:
        output.append(f"Pass mark {pass_mark:g}: "
                      f"{'passed' if report['score'] >= pass_mark else 'not reached'}.")
    if report["ignored_files"]:
        output.append("Only the code between the BEGIN/END ASSIGNMENT markers is graded; "
                      "not used: " + ", ".join(report["ignored_files"][:20]))
    output += [_task_summary(r) for r in report["tasks"]]
    tests = [e for r in report["tasks"] for e in _gradescope_tests(r)]
    return {"score": report["score"], "execution_time": round(report["execution_time"]),
            "output": "\n".join(output), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def write_json(path: str, data: dict) -> None:
    """Write `data` to `path` as indented JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def junit_xml(report: dict) -> str:
    """JUnit XML: one testsuite per task (its points as properties), one testcase per test
(hidden tests by number) with its score and max_score as properties."""
    suites = ET.Element("testsuites", name="tinygrad_lm coursework",
                        tests=str(sum(r["total"] or 1 for r in report["tasks"])),
                        time=str(report["execution_time"]))
    for r in report["tasks"]:
        suite = ET.SubElement(suites, "testsuite", name=f"task {r['task']}",
                              tests=str(r["total"] or 1), time=str(r.get("seconds", 0)),
                              failures=str(r["total"] - r["passed"] if r["total"] else 1))
        ET.SubElement(suite, "properties").extend(
            [ET.Element("property", name=k, value=str(r[k]))
             for k in ("points", "points_exact", "max_points")])
        if not r["tests"]:
            case = ET.SubElement(suite, "testcase", classname=f"task_{r['task']}",
                                 name=r["status"])
            ET.SubElement(case, "failure", message=r["message"].splitlines()[0][:200]
                          if r["message"] else r["status"]).text = r["message"]
        for i, t in enumerate(r["tests"]):
            name = f"hidden test {i + 1}" if t["hidden"] else t["name"]
            case = ET.SubElement(suite, "testcase", classname=f"task_{r['task']}", name=name)
            ET.SubElement(case, "properties").extend(
                [ET.Element("property", name=k, value=repr(t[k]))
                 for k in ("score", "max_score")])
            if t["outcome"] != "passed":
                text = "hidden test failed" if t["hidden"] else t["message"]
                ET.SubElement(case, "failure", message=text.splitlines()[0][:200]
                              if text else "failed").text = text
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
