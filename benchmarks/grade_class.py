"""What grading a class costs: the synthetic class of tests/test_grade_class.py (thirteen
submissions and a missing one, tasks 5.2 and 5.3) graded by `grade-class` with --jobs 1 and
--jobs 2, against `grade` run on each submission in turn, interleaved: class mode, grade alone,
class mode with two jobs, per round. Prints wall seconds, seconds per student, the largest
process's peak memory, and a straight-line guess for 200 students.

    python benchmarks/grade_class.py [--rounds 1] [--timeout 25]

The class holds an endless loop, which costs the whole --timeout: the guess for 200 students
counts it once per 13, as in the synthetic class, and prints the cost without it too.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from test_grade_class import MEMORY_MB, build_class  # noqa: E402


def _run(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, PYTHONPATH=ROOT))
    return time.perf_counter() - start


def main() -> None:
    """Build the class once, then time the three ways of grading it, interleaved."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--timeout", type=float, default=25.0)
    args = p.parse_args()
    tl = [sys.executable, "-m", "tinygrad_lm", "assignments"]
    common = ["--suite", ROOT, "--task", "5.2,5.3", "--timeout", str(args.timeout),
              "--memory-limit", str(MEMORY_MB)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        subs, roster = build_class(tmp)
        names = sorted(os.listdir(subs))
        for r in range(args.rounds):
            out = os.path.join(tmp, f"results{r}")
            one = _run(tl + ["grade-class", subs, "--out", out, "--roster", roster,
                             "--jobs", "1", "--force"] + common)
            alone = 0.0
            for n in names:
                sub = os.path.join(subs, n)
                if n.endswith(".zip"):  # grade takes a folder: unpack it, untimed
                    import zipfile
                    zipfile.ZipFile(sub).extractall(sub[:-4] + "-unzipped")
                    sub = sub[:-4] + "-unzipped"
                alone += _run(tl + ["grade", sub] + common)
            two = _run(tl + ["grade-class", subs, "--out", out, "--roster", roster,
                             "--jobs", "2", "--force"] + common)
            rows.append({"class_jobs1": one, "grade_alone": alone, "class_jobs2": two})
            print(f"round {r}: grade-class --jobs 1 {one:.1f} s, grade alone x{len(names)} "
                  f"{alone:.1f} s, grade-class --jobs 2 {two:.1f} s")
    n = len(names)
    best = {k: min(r[k] for r in rows) for k in rows[0]}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{n} submissions; per student: class --jobs 1 {best['class_jobs1'] / n:.2f} s, "
          f"grade alone {best['grade_alone'] / n:.2f} s (ratio "
          f"{best['class_jobs1'] / best['grade_alone']:.2f}), class --jobs 2 "
          f"{best['class_jobs2'] / n:.2f} s")
    no_loop = (best["class_jobs2"] - args.timeout / 2) / (n - 1)
    print(f"largest process's peak RSS {peak:.0f} MiB; 200 students with --jobs 2: "
          f"~{200 * best['class_jobs2'] / n / 60:.0f} min at this class's mix, "
          f"~{200 * no_loop / 60:.0f} min with no endless loop")
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "grade_class.json"), "w") as f:
        json.dump({"students": n, "rounds": rows, "peak_rss_mib": peak}, f, indent=2)


if __name__ == "__main__":
    main()
