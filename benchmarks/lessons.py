"""Time every lesson's full (default) run as a student runs it: `python lessons/NN_name.py`.

Each lesson runs in its own process from a scratch working directory (its figures go there, not
into the checkout), as `__main__` with the lesson's path as argv[0], the way `python` runs it.
For each it records the wall time, the load average, and two CPU times:

- the process's, all its threads (user + system, `os.times()` at exit);
- its main thread's alone (`time.thread_time()` at exit).

On a machine shared with other jobs the wall time measures the load as much as the lesson; CPU
time, which a waiting process does not accumulate, is the steadier figure. The two differ
because OpenBLAS's worker thread spins for a while after each call it helped with, burning
CPU time even when it has nothing to do; the lessons' main thread almost never waits, so its
CPU time is close to the wall time the lesson takes on an idle 2-core machine. `--jobs N` runs
N lessons at once (the CPU times hold; the wall times then include each other's load).

    python benchmarks/lessons.py [--quick] [--only 06,13] [--jobs 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Runs the lesson as `python LESSON` would, then writes its CPU seconds (the process's, the main
# thread's) to a file.
RUN = """import atexit, os, runpy, sys, time
path, report = sys.argv[1], sys.argv.pop(2)
atexit.register(lambda: open(report, "w").write(
    repr([os.times().user + os.times().system, time.thread_time()])))
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(path))
runpy.run_path(path, run_name="__main__")
"""


def time_lesson(path: str, quick: bool) -> dict:
    """Run one lesson in a fresh process; its wall and CPU seconds, load and last line."""
    with tempfile.TemporaryDirectory(prefix="lesson-time-") as scratch:
        env = {k: v for k, v in os.environ.items() if k != "LESSONS_QUICK"}
        env.update(LESSONS_OUT=os.path.join(scratch, "figures"), MPLBACKEND="Agg")
        report = os.path.join(scratch, "main_thread_cpu")
        command = [sys.executable, "-c", RUN, path, report] + (["--quick"] if quick else [])
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        nan = float("nan")
        cpu, main_cpu = json.load(open(report)) if os.path.exists(report) else (nan, nan)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {"lesson": os.path.basename(path), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "main_thread_cpu_s": round(main_cpu, 1),
            "load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1),
            "ok": done.returncode == 0, "last_line": lines[-1] if lines else "",
            "error": "" if done.returncode == 0 else done.stderr[-2000:]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time the quick versions instead")
    parser.add_argument("--only", default="", help="lesson numbers, comma-separated (06,13)")
    parser.add_argument("--jobs", type=int, default=1, help="lessons run at once")
    parser.add_argument("--json", default=os.path.join(ROOT, "benchmarks", "results",
                                                       "lessons.json"))
    args = parser.parse_args(argv)
    paths = sorted(glob.glob(os.path.join(ROOT, "lessons", "[0-9][0-9]_*.py")))
    if args.only:
        wanted = {n.strip().zfill(2) for n in args.only.split(",")}
        paths = [p for p in paths if os.path.basename(p)[:2] in wanted]
    print(f"{'lesson':34} {'wall s':>7} {'CPU s':>7} {'main s':>7} {'load':>11}  last line")
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for row in pool.map(lambda p: time_lesson(p, args.quick), paths):
            rows.append(row)
            load = f"{row['load_before']:.1f}-{row['load_after']:.1f}"
            said = row["last_line"] if row["ok"] else "FAILED: " + row["error"][-300:]
            print(f"{row['lesson']:34} {row['wall_s']:7.1f} {row['cpu_s']:7.1f} "
                  f"{row['main_thread_cpu_s']:7.1f} {load:>11}  {said}", flush=True)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump({"machine": platform.platform(), "cpus": os.cpu_count(),
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "quick": args.quick, "lessons": rows}, f, indent=1)
    print(f"wrote {args.json}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
