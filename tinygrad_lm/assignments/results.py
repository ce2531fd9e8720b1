"""Scores of one task from its test run, and the grading report in the formats courses use:
a table for the terminal, Gradescope's results.json and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from .catalog import HIDDEN_MARKER, Task
from .sources import TaskSource


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
    """The row of one task: points in proportion to its passing tests (0 on any error), its
    status, the first failure's message and the task's hint when it did not pass.
    """
    tests = []
    if run is not None and not error:
        error = _verify(run, src)
        tests = [{"name": r["nodeid"], "outcome": r["outcome"], "message": r["message"],
                  "hidden": HIDDEN_MARKER in r["markers"]}
                 for r in run["tests"] if task.marker in r["markers"]]
    passed = sum(t["outcome"] == "passed" for t in tests)
    total = len(tests)
    points = 0.0 if error or not total else round(task.points * passed / total, 2)
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
    return {"task": task.id, "description": task.description, "points": points,
            "max_points": task.points, "status": status, "passed": passed, "total": total,
            "hidden_total": sum(t["hidden"] for t in tests),
            "hidden_failed": sum(t["hidden"] for t in failed),
            "message": message, "hint": task.hint if status != "passed" else "",
            "notes": list(src.notes), "graded_files": src.sha256, "tests": tests}


def format_table(report: dict) -> str:
    """The grade report as a text table, one task per line, with failure messages."""
    lines = [f"{'task':<6}{'tests':>9}{'points':>14}  status", "-" * 72]
    for r in report["tasks"]:
        lines.append(f"{r['task']:<6}{r['passed']:>4}/{r['total']:<4}"
                     f"{r['points']:>8g}/{r['max_points']:<5}  {r['status']}")
        if r["message"]:
            lines += ["        " + x for x in r["message"].splitlines()[:14]]
        if r["hint"]:
            lines.append(f"        hint: {r['hint']}")
        lines += [f"        note: {n}" for n in r["notes"]]
    lines += ["-" * 72, f"total{'':>11}{report['score']:>8g}/{report['max_score']}"]
    lines.append(f"tasks chosen by {report['tasks_chosen_by']}")
    if report["ignored_files"]:
        lines.append("not used by the grader (only the code between the markers counts): "
                     + ", ".join(report["ignored_files"][:12])
                     + (" ..." if len(report["ignored_files"]) > 12 else ""))
    return "\n".join(lines)


def _feedback(r: dict) -> str:
    """What a student sees for one task: never the names or messages of hidden tests."""
    parts = [f"{r['passed']}/{r['total']} tests passed ({r['hidden_total']} of them hidden)."
             if r["total"] else "No test ran."]
    if r["message"]:
        parts.append(r["message"])
    if r["hint"]:
        parts.append(f"Hint: {r['hint']}")
    parts += [f"Note: {n}" for n in r["notes"]]
    if r["graded_files"]:
        parts.append("Graded: " + ", ".join(f"{p} sha256 {h[:16]}"
                                            for p, h in r["graded_files"].items()))
    return "\n".join(parts)


def gradescope_results(report: dict, pass_mark: float | None = None) -> dict:
    """Gradescope's results.json: a score, the run's time, an overall output, one test entry
    per task (its points and feedback)."""
    output = [f"Score {report['score']:g} / {report['max_score']}."]
    if pass_mark is not None:
        output.append(f"Pass mark {pass_mark:g}: "
                      f"{'passed' if report['score'] >= pass_mark else 'not reached'}.")
    if report["ignored_files"]:
        output.append("Only the code between the BEGIN/END ASSIGNMENT markers is graded; "
                      "not used: " + ", ".join(report["ignored_files"][:20]))
    tests = [{"name": f"{r['task']} {r['description']}", "number": r["task"],
              "score": r["points"], "max_score": r["max_points"],
              "status": "passed" if r["status"] == "passed" else "failed",
              "output": _feedback(r), "visibility": "visible"} for r in report["tasks"]]
    return {"score": report["score"], "execution_time": round(report["execution_time"]),
            "output": "\n".join(output), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def write_json(path: str, data: dict) -> None:
    """Write `data` to `path` as indented JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def junit_xml(report: dict) -> str:
    """JUnit XML: one testsuite per task, one testcase per test (hidden tests by number)."""
    suites = ET.Element("testsuites", name="tinygrad_lm coursework",
                        tests=str(sum(r["total"] or 1 for r in report["tasks"])),
                        time=str(report["execution_time"]))
    for r in report["tasks"]:
        suite = ET.SubElement(suites, "testsuite", name=f"task {r['task']}",
                              tests=str(r["total"] or 1), time=str(r.get("seconds", 0)),
                              failures=str(r["total"] - r["passed"] if r["total"] else 1))
        ET.SubElement(suite, "properties").extend(
            [ET.Element("property", name=k, value=str(r[k])) for k in ("points", "max_points")])
        if not r["tests"]:
            case = ET.SubElement(suite, "testcase", classname=f"task_{r['task']}",
                                 name=r["status"])
            ET.SubElement(case, "failure", message=r["message"].splitlines()[0][:200]
                          if r["message"] else r["status"]).text = r["message"]
        for i, t in enumerate(r["tests"]):
            name = f"hidden test {i + 1}" if t["hidden"] else t["name"]
            case = ET.SubElement(suite, "testcase", classname=f"task_{r['task']}", name=name)
            if t["outcome"] != "passed":
                text = "hidden test failed" if t["hidden"] else t["message"]
                ET.SubElement(case, "failure", message=text.splitlines()[0][:200]
                              if text else "failed").text = text
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
