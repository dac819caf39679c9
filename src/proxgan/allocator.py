"""The C allocator's settings for training processes: keep freed memory for the next step.

A training step allocates and frees the same activation buffers every step. With glibc's defaults a
freed block above the (dynamic) mmap threshold goes back to the kernel, and the top of the heap is trimmed
once more than the trim threshold is free, so the next step page-faults its buffers in again: about 7,000
minor page faults per ``mnist-fast`` step (~28 MB of pages zeroed by the kernel). :func:`retain_freed_memory`
raises both thresholds so the heap keeps those pages; the numbers do not change, only where the memory comes
from. ``python benchmarks/bench_allocator.py`` measures steps and page faults with and without it.

The CLI calls it once per process (``proxgan`` and the worker processes of ``--jobs``); Python code that
trains in its own process can call it too. A no-op (False) where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import os

#: mallopt(3) parameters and the values set: blocks up to 32 MiB (glibc's largest mmap threshold) from the
#: heap; trim the heap only when 256 MiB are free at its top; grow it 64 MiB at a time.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
SETTINGS = {M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 256 << 20, M_TOP_PAD: 64 << 20}


def retain_freed_memory() -> bool:
    """Set :data:`SETTINGS` with glibc's ``mallopt``; True when every setting was accepted.

    Memory the process frees is then reused by its next allocations instead of being returned to the
    kernel and faulted in again; the resident size stays near its peak (up to 256 MiB more) in exchange.
    """
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
        libc = ctypes.CDLL("libc.so.6")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows), unknown name (macOS), no libc.so.6
        return False
    return all(libc.mallopt(parameter, value) == 1 for parameter, value in SETTINGS.items())
