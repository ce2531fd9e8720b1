"""The kernels' worker threads: a pool of threads, each with one task slot.

threads.py decides what runs where (the cost model, BLAS held to one thread, the split of a
kernel's rows); this module only hands a task to a waiting thread and waits for it to finish.
"""

from __future__ import annotations

import threading

THREAD_PREFIX = "tinygrad_lm-kernels"  # the workers' names start with it


class Worker:
    """A pool thread with one task slot: `start(fn, i)` hands it fn(i), `join()` waits for it
    to finish and returns the exception it raised, if any.

    Two plain locks carry the hand-off, one each way (held means "nothing yet"): the cheapest
    wake-up CPython has, without the futures, conditions and queues of concurrent.futures."""

    def __init__(self, name: str):
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._task: tuple | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def start(self, fn, i) -> None:
        """Hand the waiting thread fn(i); it starts as soon as it wakes."""
        self._task = (fn, i)
        self._go.release()

    def join(self) -> BaseException | None:
        """Wait until the task handed by `start` has finished; the exception it raised, or
        None."""
        self._done.acquire()
        error, self._error = self._error, None
        return error

    def stop(self) -> None:
        """End the thread once it is idle (it takes no task after this)."""
        self._task = None  # the loop's signal to end
        self._go.release()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            if self._task is None:
                return
            fn, i = self._task
            try:
                fn(i)
            except BaseException as e:  # noqa: BLE001 - handed to the caller by join()
                self._error = e
            self._task = None
            self._done.release()


class Pool:
    """The workers, used by one caller at a time (`busy`); a caller that finds it busy (another
    thread of the program is splitting work) runs its tasks itself."""

    def __init__(self, n_workers: int):
        self.busy = threading.Lock()
        self.stopped = False
        self.workers = [Worker(f"{THREAD_PREFIX}-{i}") for i in range(n_workers)]

    def retire(self) -> None:
        """Stop the workers now if no caller is using them, else when that caller is done."""
        self.stopped = True
        if self.busy.acquire(blocking=False):
            self._stop_workers()
            self.busy.release()

    def release(self) -> None:
        """End a caller's use (after `busy.acquire()`); stop the workers if retired meanwhile.
        (Both this and retire set or read the flag before trying the lock, so whichever of the
        two comes last stops them.)"""
        self.busy.release()
        if self.stopped:
            self.retire()

    def _stop_workers(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers = []
