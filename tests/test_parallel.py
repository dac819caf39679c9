"""Worker pools: results in task order, progress forwarded, every task run when one fails, thread counts."""

import os
import sys

import pytest

from proxgan.errors import ProxganError
from proxgan.parallel import Task, WorkerPool, available_cores, import_package, longest_first, threads_per_job


def square_and_mark(x, out_dir, progress):
    """A task: writes ``out_dir/<x>`` (its "finished run"), reports, returns (x², its torch threads)."""
    import torch

    if x == 2:
        raise ProxganError(f"run {x} has bad input")
    (out_dir / str(x)).write_text("done")
    progress(f"task {x} done")
    return x * x, torch.get_num_threads(), os.getpid()


@pytest.fixture(scope="module")
def pools():
    """A serial pool and one with two workers (started once: spawning workers takes seconds)."""
    with WorkerPool(1, threads=1) as serial, WorkerPool(2, threads=1) as parallel:
        yield {1: serial, 2: parallel}


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_in_order_and_progress_forwarded(jobs, pools, tmp_path):
    messages = []
    tasks = [Task(f"t{x}", square_and_mark, {"x": x, "out_dir": tmp_path}, cost=x) for x in (3, 1, 4)]
    results = pools[jobs].run(tasks, messages.append)
    assert [r[0] for r in results] == [9, 1, 16]
    assert sorted(messages) == ["task 1 done", "task 3 done", "task 4 done"]
    if jobs == 2:
        assert {r[1] for r in results} == {1} and os.getpid() not in {r[2] for r in results}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_task_does_not_stop_the_others(jobs, pools, tmp_path):
    messages = []
    tasks = [Task(f"run{x}", square_and_mark, {"x": x, "out_dir": tmp_path}) for x in (1, 2, 3, 4)]
    with pytest.raises(ProxganError, match="run2: run 2 has bad input"):
        pools[jobs].run(tasks, messages.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "3", "4"]  # every other run finished and kept
    assert "    run2: failed: run 2 has bad input" in messages


def loaded(module, progress):
    """A task: whether ``module`` was imported in this process before the task ran."""
    return module in sys.modules


def test_preloaded_workers_hold_the_package_before_any_task_imports_it(pools):
    module = "proxgan.theory.experiment"  # nothing this test module imports pulls it in
    with WorkerPool(2, threads=1, preload="proxgan") as preloaded:
        assert preloaded.run([Task(f"t{i}", loaded, {"module": module}) for i in range(2)], print) == [True, True]
    assert pools[2].run([Task(f"t{i}", loaded, {"module": module}) for i in range(2)], print) == [False, False]
    names = import_package("proxgan")
    assert module in names and "proxgan.parallel" in names and not any(n.startswith("proxgan.cli") for n in names)
    assert "proxgan.__main__" not in names  # importing it would run the command line


def test_longest_first_orders_by_decreasing_cost_ties_in_list_order():
    tasks = [Task(f"t{i}", square_and_mark, cost=c) for i, c in enumerate((1.0, 3.0, 2.0, 3.0, 1.0))]
    assert longest_first(tasks) == [1, 3, 2, 0, 4]
    assert longest_first([]) == []


def test_threads_per_job():
    cores = available_cores()
    assert threads_per_job(1) == cores and threads_per_job(cores) == 1 and threads_per_job(4 * cores) == 1
    assert threads_per_job(2, threads=3) == 3
    with pytest.raises(ProxganError, match="jobs must be a positive integer"):
        threads_per_job(0)
    with pytest.raises(ProxganError, match="threads must be a positive integer"):
        WorkerPool(2, threads=0)
