"""How a task's points are shared among its tests (tinygrad_lm/course/assignments/weights.py):
evenly over its checks (test functions), each check's share evenly over its cases, a `weight(k)`
marker for a check worth more; exact sums; the shares in every output."""

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest

from tinygrad_lm.course.assignments.catalog import BY_ID
from tinygrad_lm.course.assignments.results import (
    format_table,
    gradescope_results,
    junit_xml,
    score_task,
)
from tinygrad_lm.course.assignments.sources import TaskSource
from tinygrad_lm.course.assignments.weights import shares

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = BY_ID["2.5"].marker  # spelled out, the grader would collect this file for task 2.5


def record(nodeid, outcome="passed", weight=1.0, hidden=False):
    return {"nodeid": nodeid, "check": nodeid.split("[")[0], "weight": weight,
            "markers": [MARK] + (["hidden"] if hidden else []), "outcome": outcome,
            "message": "" if outcome == "passed" else f"{nodeid} failed", "not_implemented": False}


PLAIN_AND_TEN = [record("t.py::test_plain")] + [record(f"t.py::test_cases[{i}]")
                                                for i in range(10)]


def test_a_plain_check_and_a_ten_case_check_split_the_points_evenly():
    got = shares(PLAIN_AND_TEN, 10)
    assert got[0] == 5 and got[1:] == [Fraction(1, 2)] * 10 and sum(got) == 10


def test_a_weight_marker_gives_its_check_more():
    tests = [dict(PLAIN_AND_TEN[0], weight=3.0)] + PLAIN_AND_TEN[1:]
    got = shares(tests, 10)
    assert got[0] == Fraction(15, 2) and got[1:] == [Fraction(1, 4)] * 10


def test_shares_are_exact_for_awkward_counts():
    tests = [record("t.py::test_a")] + [record(f"t.py::test_b[{i}]") for i in range(7)] + \
        [record(f"t.py::test_c[{i}]") for i in range(96)]
    assert sum(shares(tests, 15)) == 15  # 15 = 5 + 7 * 5/7 + 96 * 5/96, exactly


def test_a_task_scores_the_exact_sum_of_its_passing_cases():
    tests = PLAIN_AND_TEN[:1] + [dict(t, outcome="failed") for t in PLAIN_AND_TEN[1:4]] + \
        PLAIN_AND_TEN[4:]
    row = score_task(BY_ID["2.5"], {"tests": tests, "imported": {}}, TaskSource("2.5"))
    assert row["points"] == 8.5 and row["points_exact"] == "17/2"
    assert [t["max_score"] for t in row["tests"]] == [5.0] + [0.5] * 10
    assert [t["score"] for t in row["tests"]][:5] == [5.0, 0, 0, 0, 0.5]
    assert any("test_cases: 3 of 10 case(s) failed, -1.5 of 5" in x
               for x in format_table(report_of(row)).splitlines())


def report_of(*rows):
    from tinygrad_lm.course.assignments.results import total_score
    from tinygrad_lm.course.assignments.weights import fraction_text
    total = total_score(list(rows))
    return {"tasks": list(rows), "score": float(total), "score_exact": fraction_text(total),
            "max_score": sum(r["max_points"] for r in rows), "ignored_files": [],
            "tasks_chosen_by": "the catalogue", "execution_time": 1.0}


def test_results_json_carries_each_tests_share_and_hides_hidden_names():
    tests = [record("t.py::test_plain"), record("t.py::test_cases[0]", "failed"),
             record("t.py::test_cases[1]"), record("h.py::test_secret", "failed", hidden=True)]
    row = score_task(BY_ID["2.5"], {"tests": tests, "imported": {}}, TaskSource("2.5"))
    results = gradescope_results(report_of(row))
    entries = results["tests"]
    assert [e["number"] for e in entries] == ["2.5.1", "2.5.2", "2.5.3", "2.5.4"]
    assert [e["max_score"] for e in entries] == pytest.approx([10 / 3, 5 / 3, 5 / 3, 10 / 3])
    assert [e["score"] for e in entries] == pytest.approx([10 / 3, 0, 5 / 3, 0])
    assert results["score"] == pytest.approx(5) and row["points_exact"] == "5"
    assert entries[1]["status"] == "failed" and "test_cases[0] failed" in entries[1]["output"]
    assert "Hint:" in entries[1]["output"]
    assert entries[3]["name"] == "2.5 hidden test 1" and "secret" not in json.dumps(results)
    assert "2.5 MatMul.backward" in results["output"]
    cases = ET.fromstring(junit_xml(report_of(row))).iter("testcase")
    props = [{p.get("name"): float(p.get("value")) for p in c.iter("property")} for c in cases]
    assert props[1] == {"score": 0.0, "max_score": pytest.approx(5 / 3)}


def run_plugin(tmp_path, body):
    """Run the grader's plugin on one test file; returns (the run record, pytest's output)."""
    (tmp_path / "test_w.py").write_text(textwrap.dedent(body).replace("TASK", MARK))
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\nmarkers =\n    {MARK}: task\n    hidden: hidden\n    weight(k): weight\n")
    out = tmp_path / "run.json"
    env = dict(os.environ, TINYGRAD_LM_GRADE_OUT=str(out), PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--strict-markers",
                           "-p", "no:cacheprovider",
                           "-p", "tinygrad_lm.course.assignments.pytest_plugin",
                           "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
                           "test_w.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    run = json.loads(out.read_text()) if out.exists() else None
    return run, done.stdout + done.stderr


def test_the_plugin_records_each_tests_check_and_weight(tmp_path):
    run, output = run_plugin(tmp_path, """
        import pytest

        @pytest.mark.TASK
        @pytest.mark.weight(3)
        def test_specific_bug():
            pass

        @pytest.mark.TASK
        @pytest.mark.parametrize("n", range(10))
        def test_many_shapes(n):
            assert n != 4

        @pytest.mark.TASK
        def test_skipped_by_the_code():
            pytest.skip("not today")
    """)
    assert run is not None, output
    got = {t["nodeid"]: (t["check"], t["weight"]) for t in run["tests"]}
    assert got["test_w.py::test_specific_bug"] == ("test_w.py::test_specific_bug", 3.0)
    assert got["test_w.py::test_many_shapes[4]"] == ("test_w.py::test_many_shapes", 1.0)
    row = score_task(BY_ID["2.5"], run, TaskSource("2.5"))
    # 3 + 1 + 1 shares of 10: 6 + 9 * 0.2 (one case of the parametrized check failed) + 0 for
    # the skipped check: a skip is never a pass
    assert row["points_exact"] == "39/5"
    skipped = next(t for t in row["tests"] if t["check"].endswith("test_skipped_by_the_code"))
    assert skipped["score"] == 0 and "a skipped test scores 0 in grading" in skipped["message"]


def test_a_bad_or_uneven_weight_is_the_suites_error(tmp_path):
    run, output = run_plugin(tmp_path, """
        import pytest

        @pytest.mark.TASK
        @pytest.mark.parametrize("n", [1, pytest.param(2, marks=pytest.mark.weight(2))])
        def test_uneven(n):
            pass
    """)
    assert "weight 2 differs from the other cases" in output
    assert run is None or "weights are wrong" in run["collect_errors"][0]


@pytest.mark.parametrize("args", [(-1,), (0,), ("2",), (True,), (1, 2), (float("inf"),)])
def test_a_weight_must_be_one_positive_number(args):
    from tinygrad_lm.course.assignments.pytest_plugin import check_weight

    class Item:
        nodeid = "t.py::test_x"

        def get_closest_marker(self, name):
            return getattr(pytest.mark, name)(*args).mark
    with pytest.raises(pytest.UsageError, match="the weight marker takes one positive number"):
        check_weight(Item())
