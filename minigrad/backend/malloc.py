"""Keep freed memory for reuse: glibc's malloc settings for a training loop.

A training step allocates and frees the same large arrays every step: im2col columns,
activations, their gradients (about 130 MB at batch 128 for the benchmark CNN). With glibc's
defaults, memory freed at the top of the heap beyond its trim threshold goes back to the
kernel, and arrays above the mmap threshold are mapped afresh each time, so every step
page-faults all of it in again: measured on the 2-core bench machine, a batch-128 step of the
benchmark CNN took 32 ms that way and 22 ms with the settings below (batch 32: 10 -> 6 ms).

At import minigrad therefore asks glibc (mallopt) to keep up to 1 GiB of freed memory at the
top of the heap (M_TRIM_THRESHOLD) and to serve arrays of up to 32 MiB, the largest it allows,
from the heap instead of fresh mappings (M_MMAP_THRESHOLD). The process's resident memory then
stays near its peak between steps instead of dropping and faulting back in, much as PyTorch's
caching allocator keeps GPU memory. The settings are process-wide and are left alone when
MINIGRAD_KEEP_FREED_MEMORY=0 is set, when any of glibc's own MALLOC_TRIM_THRESHOLD_,
MALLOC_MMAP_THRESHOLD_, MALLOC_TOP_PAD_ or MALLOC_MMAP_MAX_ is set (the user's tuning wins), and
on a C library other than glibc.
"""

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
M_MMAP_THRESHOLD = -3

TRIM_THRESHOLD = 1 << 30  # bytes of free heap top kept before any is returned to the kernel
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit machines

GLIBC_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                   "MALLOC_MMAP_MAX_")

applied = None  # None: not tried yet; else whether the settings were made


def _glibc() -> bool:
    """Whether this process runs on glibc (not musl, say), without the platform module."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


def keep_freed_memory(environ=os.environ) -> bool:
    """Make the settings above (once per process); whether they are in effect."""
    global applied
    if applied is not None:
        return applied
    applied = False
    if environ.get("MINIGRAD_KEEP_FREED_MEMORY", "1") == "0":
        return applied
    if any(name in environ for name in GLIBC_VARIABLES):
        return applied
    if not sys.platform.startswith("linux") or not _glibc():
        return applied
    try:
        # the symbols already loaded into this process, glibc's among them (find_library
        # would start ldconfig, milliseconds at every import)
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return applied
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; setting either also turns off glibc's dynamic thresholds
    applied = bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and \
        bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return applied


keep_freed_memory()  # at import: minigrad/__init__.py imports this module first
