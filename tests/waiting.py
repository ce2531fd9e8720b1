"""Waiting for a child process without sleeping: read its output until it reports a line."""

import subprocess
import threading


def read_until(proc: subprocess.Popen, wanted, timeout: float = 60.0) -> list[str]:
    """Lines of proc.stdout up to and including the first for which wanted(line) is true.

    Read on a thread so that a child that hangs (or never says it) fails the test after
    `timeout` seconds instead of hanging it: the child is killed and AssertionError names what
    it printed."""
    lines, found = [], threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if wanted(line):
                found.set()
                return
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not found.wait(timeout):
        proc.kill()
        proc.wait()
        raise AssertionError(f"the child did not report in {timeout} s; it printed {lines!r}")
    reader.join()
    return lines
