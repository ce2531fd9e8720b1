"""The training loop's output, fit for where it goes.

- on a terminal: a tqdm bar (step, loss, tokens/s, ETA) on stderr; messages print above it;
- into a file or a pipe: a plain line at most every `interval_s` seconds, no carriage returns
  (a bar redrawn with \\r would fill a log file with hundreds of KB of updates);
- disabled: nothing but the messages (evaluations, warnings).
"""

from __future__ import annotations

import sys
import time


def _format_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """A training run's progress output: a tqdm bar on a terminal, plain lines into a file or
    pipe, nothing when disabled (see the module docstring).

    Args:
        total: the step the run ends at.
        initial: the step it starts from (a resumed run).
        enabled: False prints only the messages.
        interval_s: at most one plain line per this many seconds.
        stream: where to write (stderr by default).
    """

    def __init__(self, total: int, initial: int = 0, enabled: bool = True,
                 interval_s: float = 10.0, stream=None):
        self.total, self.initial, self.interval_s = total, initial, interval_s
        self.stream = sys.stderr if stream is None else stream
        self.mode = "off" if not enabled else "bar" if _is_terminal(self.stream) else "lines"
        self._start = time.perf_counter()
        self._last_line = -float("inf")
        self._bar = None
        if self.mode == "bar":
            from tqdm.auto import tqdm
            self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True,
                             file=self.stream)

    def update(self, step: int, loss: float, tokens_per_s: float) -> None:
        """Report one finished step."""
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tokens_per_s:.0f}")
            return
        now = time.perf_counter()
        first = step == self.initial + 1
        if first:  # the first step loads or compiles the kernels: the ETA counts from here on
            self._start = now
        if self.mode == "lines" and (now - self._last_line >= self.interval_s
                                     or step == self.total or first):
            self._last_line = now
            done = step - self.initial - 1
            eta = "after a few steps" if done < 1 else _format_seconds(
                (now - self._start) / done * (self.total - step))
            print(f"step {step}/{self.total}: loss {loss:.4f}, {tokens_per_s:,.0f} tokens/s, "
                  f"ETA {eta}", file=sys.stdout, flush=True)

    def write(self, text: str) -> None:
        """A message on stdout that never lands on the bar's line."""
        if self._bar is not None:
            self._bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self) -> None:
        """Remove the bar (a no-op for lines); messages after this print plainly."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
