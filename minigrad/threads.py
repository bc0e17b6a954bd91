"""Thread control for the CPU kernels: mg.set_num_threads(n) and mg.get_num_threads().

As in PyTorch, the setting is process-wide and applies to every compiled CPU kernel (GEMM,
convolution, im2col/col2im, pooling): each parallel loop asks OpenMP for at most n threads
(small problems still run on one, see kernels/cpu/threads.h). Before any call, the kernels
follow OpenMP's default: OMP_NUM_THREADS, else one thread per core; in the second case (no
setting at all) a kernel also leaves out the cores that other processes are keeping busy,
since a parallel loop is as slow as its slowest thread (adapts_to_load).

Each compiled module of minigrad.kernels.cpu (gemm, conv, pool, elementwise, hello, ...) keeps
its own copy of the setting, so this module sets it in all of them: every compiled module of
that package that has set_num_threads (the ones that include kernels/cpu/threads.pxi). Not covered: the numpy reference kernels
(a MINIGRAD_NO_EXT install or MINIGRAD_DISABLE_EXT=1), whose matmul threads are numpy's BLAS
(set OPENBLAS_NUM_THREADS, or use threadpoolctl), and the CUDA device.
"""

import importlib
import numbers
import os
import pkgutil

# Upper bound accepted by set_num_threads: the C setting is an int. The kernels never start more
# threads than MG_MAX_THREADS (threads.h) whatever is set.
_MAX_SETTING = 2**31 - 1

_setting = None  # what set_num_threads last set; None: OpenMP's default
_modules_cache = None


def _modules():
    """The compiled kernel modules that import here (none for a MINIGRAD_NO_EXT install)."""
    global _modules_cache
    if _modules_cache is None:
        found = []
        try:
            package = importlib.import_module("minigrad.kernels.cpu")
            names = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
        except ImportError:
            names = []
        for name in names:
            try:
                module = importlib.import_module(f"minigrad.kernels.cpu.{name}")
            except ImportError:
                continue
            if hasattr(module, "set_num_threads") and hasattr(module, "get_num_threads"):
                found.append(module)
        _modules_cache = tuple(found)
    return _modules_cache


def set_num_threads(n: int) -> None:
    """Use at most n threads (an int >= 1) in every CPU kernel, as torch.set_num_threads.

    Raises TypeError when n is not an int (bool included) and ValueError when n < 1.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"set_num_threads: expected an int, got {n!r} ({type(n).__name__})")
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: the number of threads must be >= 1, got {n}")
    if n > _MAX_SETTING:
        raise ValueError(f"set_num_threads: the number of threads must be <= {_MAX_SETTING}, "
                         f"got {n}")
    global _setting
    for module in _modules():
        module.set_num_threads(n)
    _setting = n


def get_num_threads() -> int:
    """Threads a large CPU kernel uses: what set_num_threads set, else OpenMP's default
    (OMP_NUM_THREADS, else one per core); 1 when no kernel was built with OpenMP."""
    if _setting is not None:
        return _setting
    threaded = [m for m in _modules() if m.has_openmp()]
    return int(threaded[0].get_num_threads()) if threaded else 1


def adapts_to_load() -> bool:
    """Whether the kernels' thread count follows the machine's load: with OpenMP's default
    (no set_num_threads, no OMP_NUM_THREADS) a kernel asks only for the cores that other
    processes leave free, measured over the last tenth of a second (kernels/cpu/threads.h).
    An explicit setting is used as it is."""
    return (_setting is None and "OMP_NUM_THREADS" not in os.environ
            and any(m.has_openmp() for m in _modules()))


def _restore(setting) -> None:
    """Put back a setting read from `_setting` (None: OpenMP's default again)."""
    global _setting
    if setting is None:
        for module in _modules():
            module.set_num_threads(0)
        _setting = None
    else:
        set_num_threads(setting)


def kernel_num_threads() -> dict:
    """Module name -> threads its large parallel loops ask for now (a diagnostic for tests:
    every compiled module must follow set_num_threads)."""
    return {m.__name__.rsplit(".", 1)[-1]: int(m.get_num_threads()) for m in _modules()}
