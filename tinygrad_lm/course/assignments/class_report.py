"""The class at a glance: `summary.html` and `summary.png`. The score distribution, each task's
pass rate and mean points, the checks most students fail (what to teach again), the statuses,
and the grading time per student.
"""

from __future__ import annotations

import html
import os
import statistics

from .results import shown
from .students import write_atomic

TOP_CHECKS = 15


def failed_checks(cls: dict) -> list[tuple[str, str, int]]:
    """(task, check, number of students failing it), most failed first. A check is a test
    function (a hidden one by its task and number); a task that could not run counts once
    under "could not run"; a task not attempted is not counted."""
    count: dict[tuple[str, str], int] = {}
    for rec in cls["students"]:
        report = rec.get("report")
        if not report:
            continue
        for row in report["tasks"]:
            seen = set()
            if row["status"] == "error":
                seen.add((row["task"], "could not run (error, time-out, crash)"))
            hidden: dict[str, int] = {}
            for t in row["tests"]:
                name = t["check"].split("::")[-1]
                if t["hidden"]:
                    name = f"hidden check {hidden.setdefault(t['check'], len(hidden) + 1)}"
                if t["outcome"] != "passed":
                    seen.add((row["task"], name))
            for key in seen:
                count[key] = count.get(key, 0) + 1
    return sorted(((t, c, n) for (t, c), n in count.items()), key=lambda x: (-x[2], x[0], x[1]))


def task_stats(cls: dict) -> list[dict]:
    """Per task: how many graded students got full points, and their mean points."""
    out = []
    graded = [r for r in cls["students"] if r["status"] != "missing"]
    for t in cls["tasks"]:
        points = [float(r["points"].get(t.id, 0.0)) for r in graded]
        out.append({"task": t.id, "max": t.points, "students": len(points),
                    "full": sum(p >= t.points for p in points),
                    "mean": statistics.fmean(points) if points else 0.0})
    return out


def _plot(cls: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")  # files only: no window, works without a display
    import matplotlib.pyplot as plt
    recs = [r for r in cls["students"] if r["status"] != "missing"]
    best = sum(t.points for t in cls["tasks"])
    fig, ax = plt.subplots(2, 2, figsize=(12, 8))
    ax[0, 0].hist([r["score"] for r in recs], bins=min(20, max(5, len(recs) // 2)),
                  range=(0, best), color="#4477aa")
    ax[0, 0].set(title="score distribution", xlabel=f"points (of {best})", ylabel="students")
    stats = task_stats(cls)
    ax[0, 1].bar([s["task"] for s in stats],
                 [100 * s["full"] / s["students"] if s["students"] else 0 for s in stats],
                 color="#228833")
    ax[0, 1].set(title="full marks per task", ylabel="% of students", ylim=(0, 100))
    top = failed_checks(cls)[:10][::-1]
    if top:
        labels = [f"{t} {c}" for t, c, _ in top]
        ax[1, 0].barh([x if len(x) <= 36 else x[:35] + "…" for x in labels],
                      [n for _, _, n in top],
                      color="#ee6677")
        ax[1, 0].tick_params(axis="y", labelsize=7)
    else:
        ax[1, 0].text(0.5, 0.5, "no check failed", ha="center", va="center",
                      transform=ax[1, 0].transAxes)
        ax[1, 0].set_yticks([])
    ax[1, 0].set(title="most failed checks", xlabel="students failing")
    ax[1, 1].hist([r.get("seconds", 0.0) for r in recs], bins=10, color="#aa3377")
    ax[1, 1].set(title="grading time per student", xlabel="seconds", ylabel="students")
    from matplotlib.ticker import MaxNLocator
    for a in (ax[0, 0], ax[1, 1]):  # counts of students are whole numbers
        a.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax[1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def summary_html(cls: dict, png: str | None) -> str:
    """The summary page (it shows `png` when given)."""
    recs = cls["students"]
    graded = [r for r in recs if r["status"] != "missing"]
    best = sum(t.points for t in cls["tasks"])
    statuses: dict[str, int] = {}
    for r in recs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    scores = [r["score"] for r in graded]
    seconds = [r.get("seconds", 0.0) for r in graded]
    rows = [f"<h1>Class summary</h1><p>{len(recs)} students; tasks "
            f"{', '.join(t.id for t in cls['tasks'])} ({best} points).</p>"]
    if scores:
        rows.append(f"<p>Score: mean {shown(statistics.fmean(scores))}, median "
                    f"{shown(statistics.median(scores))}, min {shown(min(scores))}, max "
                    f"{shown(max(scores))}. Grading time per student: mean "
                    f"{statistics.fmean(seconds):.1f} s, max {max(seconds):.1f} s, total "
                    f"{sum(seconds):.0f} s (the last run's, or the run that graded each "
                    "student).</p>")
    rows.append("<p>Status: " + ", ".join(f"{html.escape(k)} {v}" for k, v in
                                          sorted(statuses.items())) + "</p>")
    if png:
        rows.append(f'<img src="{html.escape(os.path.basename(png))}" width="900">')
    rows.append("<h2>Tasks</h2><table><tr><th>task</th><th>full marks</th><th>mean points"
                "</th></tr>")
    rows += [f"<tr><td>{s['task']}</td><td>{s['full']}/{s['students']}</td>"
             f"<td>{shown(s['mean'])}/{s['max']}</td></tr>" for s in task_stats(cls)]
    rows.append("</table><h2>Most failed checks (what to go over again)</h2><table><tr><th>"
                "task</th><th>check</th><th>students failing</th></tr>")
    rows += [f"<tr><td>{html.escape(t)}</td><td>{html.escape(c)}</td><td>{n}</td></tr>"
             for t, c, n in failed_checks(cls)[:TOP_CHECKS]]
    rows.append("</table><h2>Students needing a look</h2><table><tr><th>student</th><th>"
                "status</th><th>reason</th></tr>")
    rows += [f"<tr><td>{html.escape(r['student'])}</td><td>{html.escape(r['status'])}</td>"
             f"<td>{html.escape(r['reason'])}</td></tr>" for r in recs
             if r["status"] not in ("graded", "partial")]
    rows.append("</table>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Class summary</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 8px}</style></head><body>"
            + "".join(rows) + "</body></html>\n")


def write_summary(cls: dict, out: str, plot: bool = True) -> list[str]:
    """Write summary.png (unless `plot` is False) and summary.html to `out`; returns paths."""
    png = os.path.join(out, "summary.png") if plot and cls["students"] else None
    if png:
        tmp = os.path.join(out, ".summary-tmp.png")
        _plot(cls, tmp)
        os.replace(tmp, png)
    page = os.path.join(out, "summary.html")
    write_atomic(page, summary_html(cls, png))
    return [p for p in (page, png) if p]
