"""Independent runs in parallel worker processes, each with its own torch thread count.

:meth:`WorkerPool.run` runs a list of :class:`Task` either in this process, one after another
(``jobs = 1``), or in ``jobs`` spawned worker processes. Each task is a module-level function called with
its keyword arguments and ``progress``, a callable that forwards one-line messages to the caller's progress
callback (through a queue when the task runs in a worker). Tasks must be deterministic functions of their
arguments (seeded), so the results do not depend on ``jobs``.

A failing task does not stop the others: every task runs to its end, the finished ones keep what they
wrote, and the first failure is raised afterwards.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from proxgan.allocator import retain_freed_memory
from proxgan.errors import ProxganError, check_positive_int

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Task:
    """``function(**kwargs, progress=…)``; ``label`` names the run in progress messages and errors; ``cost`` is
    its expected run time in any unit shared by the tasks of one :meth:`WorkerPool.run` (the order they start in)."""

    label: str
    function: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    cost: float = 1.0


def longest_first(tasks: list[Task]) -> list[int]:
    """The indices of ``tasks`` by decreasing ``cost``, ties in their order: the longest-processing-time-first
    schedule, whose makespan on m workers is at most 4/3 − 1/(3m) of the optimum (Graham 1969); started in list
    order, a long task queued last keeps one worker busy while the others idle."""
    return sorted(range(len(tasks)), key=lambda i: -tasks[i].cost)


def available_cores() -> int:
    """The CPU cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` where unsupported)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_job(jobs: int, threads: int | None = None) -> int:
    """``threads`` if given, else max(1, cores // jobs): the torch threads of each worker."""
    if threads is not None:
        return check_positive_int("threads", threads)
    return max(1, available_cores() // check_positive_int("jobs", jobs))


#: in a worker process: the queue its progress messages go to (set by :func:`_init_worker`)
_WORKER_QUEUE: Any = None


class WorkerProgress:
    """The progress callback of a task in a worker: puts each message on the worker's queue."""

    def __call__(self, message: str) -> None:
        _WORKER_QUEUE.put(message)


def import_package(package: str) -> list[str]:
    """Import every module of ``package`` but its command-line modules (``<package>.cli``, ``<package>.__main__``);
    their names.

    A long pipeline calls this at its start, in its own process and in each worker: modules otherwise imported
    lazily, an hour in, would be read from a checkout that may have been edited since (a renamed function then
    stops the run with an ImportError). Once imported, a module is not read again.
    """
    import importlib
    import pkgutil

    root = importlib.import_module(package)
    names = [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")
             if not m.name.startswith((f"{package}.cli", f"{package}.__main__"))]
    for name in names:
        importlib.import_module(name)
    return names


def _init_worker(threads: int, queue: Any, preload: str | None) -> None:
    global _WORKER_QUEUE
    import torch

    retain_freed_memory()
    torch.set_num_threads(threads)
    _WORKER_QUEUE = queue
    if preload is not None:
        import_package(preload)


def _drain(queue: Any, progress: Progress) -> None:
    while True:
        try:
            progress(queue.get_nowait())
        except queue_module.Empty:
            return


class WorkerPool:
    """``jobs`` spawned worker processes with ``threads`` torch threads each, started on first use and kept
    for every later :meth:`run` (one start-up per pipeline, not per stage); a context manager. ``preload``:
    a package each worker imports whole when it starts (:func:`import_package`)."""

    def __init__(self, jobs: int, threads: int, preload: str | None = None):
        self.jobs, self.threads = check_positive_int("jobs", jobs), check_positive_int("threads", threads)
        self.preload = preload
        self._executor: ProcessPoolExecutor | None = None
        self._queue: Any = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")  # fork after torch's thread pools start is unsafe
            self._queue = context.Queue()
            self._executor = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_init_worker,
                                                 initargs=(self.threads, self._queue, self.preload))
        return self._executor

    def run(self, tasks: list[Task], progress: Progress) -> list[Any]:
        """The results of ``tasks`` in their order: in this process one after another when ``jobs = 1`` or
        there is one task, else in the workers, started longest first (:func:`longest_first`). Every task
        runs to its end (what finished runs wrote is kept); then the first failure, if any, is raised."""
        if self.jobs == 1 or len(tasks) <= 1:
            outcomes = [_outcome(lambda task=task: task.function(**task.kwargs, progress=progress)) for task in tasks]
        else:
            executor = self._start()
            futures: list[Any] = [None] * len(tasks)
            for i in longest_first(tasks):
                futures[i] = executor.submit(tasks[i].function, **tasks[i].kwargs, progress=WorkerProgress())
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                _drain(self._queue, progress)
            time.sleep(0.05)  # the queue's feeder thread may still be flushing the last messages
            _drain(self._queue, progress)
            outcomes = [(None, f.exception()) if f.exception() is not None else (f.result(), None) for f in futures]
        failures = [(task, exc) for task, (_, exc) in zip(tasks, outcomes) if exc is not None]
        for task, exc in failures:
            progress(f"    {task.label}: failed: {exc}")
        if failures:
            task, exc = failures[0]
            if isinstance(exc, ProxganError):
                raise ProxganError(f"{task.label}: {exc}") from None
            raise exc
        return [result for result, _ in outcomes]


def _outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """(result, None) or (None, the exception) of ``call()``; KeyboardInterrupt still stops everything."""
    try:
        return call(), None
    except Exception as exc:  # noqa: BLE001 - re-raised by the caller once every task has run
        return None, exc
