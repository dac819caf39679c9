"""Shared by the benchmarks: peak-memory measurement in a fresh process, and the model-size options."""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def proc_status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def peak_rss_growth_mib(work: Callable[[], None]) -> float:
    """Peak resident memory (MiB) reached by ``work()`` above the current RSS (Linux: VmHWM reset via clear_refs)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = proc_status_kib("VmRSS")
    work()
    return (proc_status_kib("VmHWM") - before) / 1024


def peak_memory_in_subprocess(script: str, mode: str, formulation: str, args: argparse.Namespace) -> float:
    """Run ``script --memory-probe mode`` in a fresh process (freed tensors go back to the OS) and read its MiB."""
    command = [sys.executable, script, "--memory-probe", mode, "--formulations", formulation,
               "--dim", str(args.dim), "--resolution", str(args.resolution), "--batch", str(args.batch),
               "--threads", str(args.threads)]  # fmt: skip
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    return float(subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout.strip())


def benchmark_parser(doc: str, *, repeats: int, modes: list[str], threads: int) -> argparse.ArgumentParser:
    """The options both model benchmarks take: DCGAN size, batch, repeats, formulations, threads."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--formulations", default="wgan-wc,sngan")
    parser.add_argument("--threads", type=int, default=threads)
    parser.add_argument("--memory-probe", choices=modes, help=argparse.SUPPRESS)
    return parser
