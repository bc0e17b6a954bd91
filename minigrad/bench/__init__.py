"""`minigrad bench`: our kernels and training step, side by side with numpy and PyTorch.

One run times every workload for every available implementation ("impl") and prints a table:
median time, spread, throughput (GFLOP/s, images/s or microseconds per op) and the speed
relative to the fastest impl of that workload, then the issue-4 targets with the measured
ratios. Implementations:

    minigrad     our compiled kernels (backend/cpu.py) or, for the training step and the tiny
                 ops, the whole library (autograd, ops, optimizer)
    reference    the numpy reference kernels (backend/reference.py). For GEMM this is
                 np.matmul in this process, i.e. numpy "as is" under the caller's environment.
                 For the training step it is minigrad with MINIGRAD_DISABLE_EXT=1 (child process)
    numpy best   np.matmul in a child process whose environment lacks OPENBLAS_CORETYPE and
                 OPENBLAS_L2_SIZE, so OpenBLAS picks its own (best) kernel for this CPU
    torch        PyTorch CPU, when installed (never a dependency of minigrad)

Measurement: each impl is warmed up, then called until both a minimum number of repeats and a
minimum time are reached (capped by a maximum number of repeats), split into interleaved rounds
(A, B, C, A, B, C, ...) so that outside load is shared; the median is reported and the spread
is half the inter-quartile range relative to the median. The CNN's GEMMs are recorded from a
real training step (record_cnn_gemms), so they follow the kernels as those change. Every
library runs with the same thread count: the GEMM's (OMP_NUM_THREADS or all cores), set with
torch.set_num_threads and, for OpenBLAS, threadpoolctl (when installed) plus
OPENBLAS_NUM_THREADS in the child processes.

glibc reads MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ only at process start. Without them
large arrays come from fresh mmaps and each call pays page faults, so `bench_main` re-executes
the benchmark in a child interpreter with both set (unless they are already set), and with
OPENBLAS_THREAD_TIMEOUT=4 so that OpenBLAS's idle threads do not spin into the next
implementation's timing (child.OPENBLAS_QUIET).
"""

import json
import os
import signal
import subprocess
import sys

from ..cli import output_path_problem
from .child import _CHILD_ENV, MALLOC_ENV, _child_env
# Re-exported: the names tests, benchmarks/ scripts and callers used from the single module.
from .child import OPENBLAS_TUNING_VARS  # noqa: F401
from .busy import Competitor, format_busy, run_busy  # noqa: F401
from .config import (BUSY, CONV_LAYERS, FULL, HIPS_AUTOGRAD, IMPL_ORDER, MINIGRAD,  # noqa: F401
                     MYGRAD, NUMPY_BEST, POOL_LAYERS, QUICK, REFERENCE, SMOKE, TORCH, Config)
from .gemm import gemm_spec, make_operands, record_cnn_gemms, spec_mnk, square_spec  # noqa: F401
from .machine import _gemm_module, _import_torch, bench_threads, machine_info  # noqa: F401
from .report import GROUP_TITLES, format_report, report_to_json, write_plot  # noqa: F401
from .results import TARGETS, Result, compute_ratios, evaluate_targets  # noqa: F401
from .run import run_benchmarks
from .timing import Timing, measure, sample  # noqa: F401
from .train import minigrad_train_step, torch_train_step  # noqa: F401


def _reexec(args):
    """Run the benchmark again in a child interpreter with the malloc thresholds set."""
    cmd = [sys.executable, "-m", "minigrad", "bench"]
    if args.quick:
        cmd.append("--quick")
    if getattr(args, "json", None):
        cmd += ["--json", args.json]
    if getattr(args, "plot", None):
        cmd += ["--plot", args.plot]
    env = _child_env(extra={_CHILD_ENV: "1"}, quiet_openblas=True)
    child = subprocess.Popen(cmd, env=env)
    try:
        return child.wait()
    except KeyboardInterrupt:
        # A terminal's Ctrl-C reaches the child too, which then prints the one-line notice
        # and exits 130; a SIGINT sent to this process alone is passed on.
        try:
            return _interrupted_code(child.wait(timeout=2))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)
        try:
            return _interrupted_code(child.wait(timeout=10))
        except subprocess.TimeoutExpired:
            child.kill()
            return 130


def _interrupted_code(code):
    """130 for a child that the passed-on SIGINT killed while it was already exiting (on a
    busy machine it can take longer than the 2 s grace to print its notice and exit: the
    returncode is then -SIGINT, which sys.exit would turn into 254)."""
    return 130 if code == -signal.SIGINT else code


def busy_main(args):
    """`minigrad bench --busy [--quick] [--json PATH]`: the busy-machine table; exit code."""
    if args.plot:
        print("minigrad bench: error: --plot is not available with --busy", file=sys.stderr)
        return 2
    report = run_busy(BUSY, rounds=2 if args.quick else 3,
                      progress=lambda text: print(f"[busy] {text}", file=sys.stderr, flush=True))
    print(format_busy(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    return 0


def bench_main(args):
    """`minigrad bench [--quick] [--json PATH] [--plot PATH] [--device cuda]`; the exit code."""
    for option in ("json", "plot"):  # checked before the run, which takes minutes
        path = getattr(args, option, None)
        problem = path and output_path_problem(path)
        if problem:
            print(f"minigrad bench: error: --{option} {path}: {problem}", file=sys.stderr)
            return 2
    if getattr(args, "device", "cpu") != "cpu":  # the GPU group: its own run and table
        from .gpu import gpu_bench_main

        return gpu_bench_main(args)
    if getattr(args, "busy", False):
        return busy_main(args)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("minigrad bench: error: --plot needs matplotlib, which is not installed; "
                  "install it with `pip install 'minigrad[plot]'` (or `pip install matplotlib`)",
                  file=sys.stderr)
            return 2
    if os.environ.get(_CHILD_ENV) != "1" and not all(k in os.environ for k in MALLOC_ENV):
        return _reexec(args)
    cfg = QUICK if args.quick else FULL
    report = run_benchmarks(cfg)
    print(format_report(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report_to_json(report), f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        write_plot(report, args.plot)
        print(f"wrote {args.plot}")
    return 0
