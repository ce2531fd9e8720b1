"""The similarity report's files: `similarity.csv` (every pair of students, best first) and
`similarity.html` (the pairs above the threshold first, each with both students' code of the
shared tasks side by side and the shared passages marked, then the next closest pairs).

A flag is a reason for a person to read two submissions, not a finding: short tasks have few
ways to be written, and two students may have worked from the same lecture notes.
"""

from __future__ import annotations

import html
import os

from .gradebook import _csv
from .similarity import MIN_SHARED, K, W, matched_lines
from .students import write_atomic

SHOWN_UNFLAGGED = 20
STYLE = """body{font-family:sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}
pre{margin:0;font-size:12px;overflow-x:auto}.hit{background:#ffe08a}.side{width:50%}
table.pair{width:100%;table-layout:fixed}
.flag{color:#a00;font-weight:bold}"""


def similarity_csv(result: dict) -> str:
    """Every pair: the two students, the score, the shared fingerprints, each side's share,
    the tasks they share code in and whether the pair is flagged."""
    rows = [["student_a", "student_b", "score", "shared_fingerprints", "a_share", "b_share",
             "tasks", "flagged"]]
    rows += [[p["a"], p["b"], f"{p['score']:.3f}", p["shared"], f"{p['a_share']:.3f}",
              f"{p['b_share']:.3f}", " ".join(p["tasks"]), "yes" if p["flagged"] else "no"]
             for p in result["pairs"]]
    return _csv(rows)


def _side(code, places: set) -> str:
    out = []
    for i, (rel, first, lines) in enumerate(code.regions):
        out.append(f"<b>{html.escape(rel)}</b>")
        for j, line in enumerate(lines):
            text = html.escape(f"{first + j:5d}  {line.rstrip()}")
            out.append(f'<span class="hit">{text}</span>' if (i, j) in places else text)
    return "<pre>" + "\n".join(out) + "</pre>"


def _pair_html(result: dict, p: dict) -> str:
    parts = [f'<h3 id="{html.escape(p["a"])}--{html.escape(p["b"])}">'
             f'{html.escape(p["a"])} and {html.escape(p["b"])}: {p["score"]:.0%} '
             f'({p["shared"]} shared fingerprints; {p["a_share"]:.0%} of {html.escape(p["a"])}'
             f"'s, {p['b_share']:.0%} of {html.escape(p['b'])}'s)</h3>"]
    for task in p["tasks"]:
        left, right = matched_lines(result, p["a"], p["b"], task)
        parts.append(f'<p>Task {html.escape(task)}</p><table class="pair"><tr>'
                     f'<th class="side">{html.escape(p["a"])}</th>'
                     f'<th class="side">{html.escape(p["b"])}</th></tr><tr>'
                     f'<td>{_side(result["code"][p["a"]][task], left)}</td>'
                     f'<td>{_side(result["code"][p["b"]][task], right)}</td></tr></table>')
    return "\n".join(parts)


def similarity_html(result: dict) -> str:
    """The report page: how to read it, the flagged pairs with their code side by side, the
    closest unflagged pairs, and each student's share of fingerprints found in the reference
    solution."""
    flagged = [p for p in result["pairs"] if p["flagged"]]
    rest = [p for p in result["pairs"] if not p["flagged"] and p["shared"]][:SHOWN_UNFLAGGED]
    head = (f"<h1>Similarity of student-written code</h1><p>{len(result['code'])} students, "
            f"{len(result['pairs'])} pairs. A pair is flagged when at least "
            f"{result['threshold']:.0%} of the smaller side's fingerprints (and at least "
            f"{MIN_SHARED}) are shared. Fingerprints: winnowed {K}-token k-grams (window {W}) "
            "of the code between the markers, with names, numbers, strings, comments and "
            "spacing normalised; the starter, the reference solution and code more than "
            f"{result['too_common']} students share are left out.</p>"
            "<p><b>A flag is a reason to read both submissions, not a verdict.</b> Short "
            "tasks leave few ways to write them; shared notes or a study group look the same. "
            "It cannot see code copied and then restructured (reordered statements, another "
            "algorithm), nor copying from outside the class.</p>")
    body = [head, f"<h2>Flagged pairs ({len(flagged)})</h2>"]
    body += [_pair_html(result, p) for p in flagged] or ["<p>None.</p>"]
    body.append("<h2>Closest pairs below the threshold</h2><table><tr><th>students</th>"
                "<th>score</th><th>shared</th><th>tasks</th></tr>")
    body += [f"<tr><td>{html.escape(p['a'])} / {html.escape(p['b'])}</td>"
             f"<td>{p['score']:.0%}</td><td>{p['shared']}</td>"
             f"<td>{html.escape(' '.join(p['tasks']))}</td></tr>" for p in rest]
    body.append("</table><h2>Share of each student's fingerprints found in the reference "
                "solution</h2><p>High for a correct solution written the usual way; 100% for "
                "a copy of the answer key.</p><table>")
    body += [f"<tr><td>{html.escape(sid)}</td><td>{share:.0%}</td></tr>"
             for sid, share in sorted(result["solution_share"].items())]
    body.append("</table>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Similarity</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")


def write_similarity(result: dict, out: str) -> list[str]:
    """Write similarity.csv and similarity.html to `out`; returns their paths."""
    paths = [os.path.join(out, "similarity.csv"), os.path.join(out, "similarity.html")]
    write_atomic(paths[0], similarity_csv(result))
    write_atomic(paths[1], similarity_html(result))
    return paths
