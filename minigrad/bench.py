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
the benchmark in a child interpreter with both set (unless they are already set).
"""

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}
OPENBLAS_TUNING_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_CHILD_ENV = "MINIGRAD_BENCH_CHILD"

MINIGRAD, REFERENCE, NUMPY_BEST, TORCH = "minigrad", "reference", "numpy best", "torch"
IMPL_ORDER = (MINIGRAD, REFERENCE, NUMPY_BEST, TORCH)

# The CNN of the issue: Conv2d(1,32,3)-ReLU-MaxPool2d(2)-Conv2d(32,64,3)-ReLU-MaxPool2d(2)-
# Flatten-Linear(1600,128)-ReLU-Linear(128,10) on 28x28 images.
CONV_LAYERS = (("conv1", 1, 32, 28), ("conv2", 32, 64, 13))  # (name, C, O, H) with 3x3 kernels
POOL_LAYERS = (("pool1", 32, 26), ("pool2", 64, 11))  # (name, C, H), 2x2 windows, stride 2


def gemm_spec(a, b, trans_a=False, trans_b=False):
    """How a GEMM was called: operand shapes and layouts ("C": C-contiguous, "F": a transposed
    view of a C-contiguous array, "strided": anything else) and the transpose flags."""
    def layout(x):
        return "C" if x.flags.c_contiguous else "F" if x.flags.f_contiguous else "strided"

    return {"a_shape": list(a.shape), "a_layout": layout(a), "b_shape": list(b.shape),
            "b_layout": layout(b), "trans_a": bool(trans_a), "trans_b": bool(trans_b)}


def spec_mnk(spec):
    """(M, N, K) of op(a) @ op(b) for a 2-D gemm_spec."""
    (a0, a1), (b0, b1) = spec["a_shape"], spec["b_shape"]
    m, k = (a1, a0) if spec["trans_a"] else (a0, a1)
    n = b0 if spec["trans_b"] else b1
    return m, n, k


def square_spec(n):
    return {"a_shape": [n, n], "a_layout": "C", "b_shape": [n, n], "b_layout": "C",
            "trans_a": False, "trans_b": False}


def make_operands(rng, spec, dtype=np.float32):
    """Random operands laid out as in spec ("strided" ones are made C-contiguous)."""
    def make(shape, layout):
        if layout == "F":
            return rng.standard_normal(shape[::-1]).astype(dtype).T
        return rng.standard_normal(shape).astype(dtype)

    return make(spec["a_shape"], spec["a_layout"]), make(spec["b_shape"], spec["b_layout"])


def _numpy_product(a, b, spec):
    """op(a) @ op(b) for numpy/torch: the transposes as views, the library picks its kernel."""
    a = a.T if spec["trans_a"] else a
    b = b.T if spec["trans_b"] else b
    return a, b


_GEMM_KINDS = {"conv2d_forward": "conv fwd", "conv2d_grad_input": "conv dX",
               "conv2d_grad_weight": "conv dW", "matmul": "matmul"}


class _GemmRecorder:
    """Stands in for the compiled gemm module in backend/cpu.py and notes every matmul call."""

    def __init__(self, gemm):
        self.gemm, self.calls = gemm, []

    def matmul(self, a, b, trans_a=False, trans_b=False):
        frame = sys._getframe(1)
        via = frame.f_code.co_name  # "matmul" (cpu.matmul) or "_gemm_2d" (conv internals)
        caller = frame.f_back.f_code.co_name if via == "_gemm_2d" else via
        if a.ndim == 2 and b.ndim == 2:
            self.calls.append((_GEMM_KINDS.get(caller, caller), via,
                               gemm_spec(a, b, trans_a, trans_b)))
        return self.gemm.matmul(a, b, trans_a=trans_a, trans_b=trans_b)

    def __getattr__(self, name):
        return getattr(self.gemm, name)


def record_cnn_gemms(batch):
    """The GEMMs one training step of the CNN issues at this batch, as the code calls them now:
    [(label, via, spec)] in call order, duplicates removed; [] without the compiled GEMM."""
    from .backend import cpu

    if cpu._gemm is None:
        return []
    step, _ = minigrad_train_step(batch)
    recorder = _GemmRecorder(cpu._gemm)
    cpu._gemm = recorder
    try:
        step()
    finally:
        cpu._gemm = recorder.gemm
    out, seen = [], set()
    for kind, via, spec in recorder.calls:
        key = json.dumps(spec, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        m, n, k = spec_mnk(spec)
        flags = "".join(f" {x}^T" for x, t in (("A", spec["trans_a"]), ("B", spec["trans_b"])) if t)
        out.append((f"{kind} {m}x{n}x{k}{flags}", via, spec))
    return out


@dataclass(frozen=True)
class Config:
    """What to run and how long to time it."""

    name: str
    gemm_sizes: tuple = (256, 512, 1024)
    cnn_gemm_batch: int = 128  # the CNN's GEMMs (recorded from a training step); 0: skip
    batches: tuple = (32, 128)  # conv, pool and training-step batch sizes
    warmup: int = 2
    min_repeats: int = 5
    max_repeats: int = 50
    min_time: float = 0.1  # seconds of timed calls per (workload, impl), at least
    train_min_time: float = 0.5
    tiny_chain: int = 50  # (mul, add) pairs in the tiny-op chain
    numpy_child: bool = True  # time "numpy best" in a child process
    train_reference: bool = True  # time the training step on the reference kernels (child)
    torch: bool = True  # include PyTorch when it imports
    progress: bool = True
    threads: int = 0  # 0: our GEMM's default (OMP_NUM_THREADS or all cores)
    rounds: int = 1  # interleaved rounds per measurement (repeats and time split over them)


QUICK = Config("quick", warmup=2, min_repeats=6, max_repeats=60, min_time=0.25,
               train_min_time=0.75, rounds=3)
FULL = Config("full", gemm_sizes=(256, 512, 1024, 2048), warmup=3, min_repeats=15,
              max_repeats=300, min_time=1.0, train_min_time=4.0, rounds=5)
# Smallest configuration that still goes through every code path (tests/test_bench.py).
SMOKE = Config("smoke", gemm_sizes=(32,), cnn_gemm_batch=2, batches=(2,), warmup=1,
               min_repeats=2, max_repeats=2, min_time=0.0, train_min_time=0.0, tiny_chain=3,
               train_reference=False, progress=False, rounds=2)


# --------------------------------------------------------------------------------------------
# timing


@dataclass
class Timing:
    """Seconds per call: median, quartiles and extremes of `repeats` timed calls."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    repeats: int

    @classmethod
    def from_times(cls, times):
        q1, med, q3 = np.percentile(times, [25, 50, 75])
        return cls(float(med), float(q1), float(q3), float(min(times)), float(max(times)),
                   len(times))

    @property
    def spread(self):
        """Half the inter-quartile range relative to the median (0.02 = +-2%)."""
        return (self.q3 - self.q1) / 2 / self.median if self.median > 0 else 0.0


def sample(fn, *, warmup, min_repeats, max_repeats, min_time):
    """Warm up, then time fn() until min_repeats and min_time are both reached (or max_repeats);
    the list of seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    deadline = time.perf_counter() + min_time
    while len(times) < min_repeats or (len(times) < max_repeats and time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def measure(fn, *, warmup, min_repeats, max_repeats, min_time):
    """Timing of fn(): warm-up, then the median and spread of repeated calls."""
    return Timing.from_times(sample(fn, warmup=warmup, min_repeats=min_repeats,
                                    max_repeats=max_repeats, min_time=min_time))


def _sample_round(cfg, fn, rnd, train=False):
    """One of cfg.rounds slices of a measurement (full warm-up in round 0, one call after)."""
    r = cfg.rounds
    return sample(fn, warmup=cfg.warmup if rnd == 0 else 1,
                  min_repeats=-(-cfg.min_repeats // r), max_repeats=-(-cfg.max_repeats // r),
                  min_time=(cfg.train_min_time if train else cfg.min_time) / r)


def _measure_impls(cfg, impls, train=False, progress=None):
    """{impl: Timing} for [(impl, fn)], timed in cfg.rounds interleaved rounds.

    Interleaving spreads a burst of outside load over every impl instead of one of them.
    """
    times = {impl: [] for impl, _ in impls}
    for rnd in range(cfg.rounds):
        for impl, fn in impls:
            times[impl] += _sample_round(cfg, fn, rnd, train)
    if progress is not None:
        progress.step(len(impls))
    return {impl: Timing.from_times(t) for impl, t in times.items()}


# --------------------------------------------------------------------------------------------
# results


@dataclass
class Result:
    """One (workload, impl) measurement. work: FLOPs, images or ops per call (0: none)."""

    group: str
    workload: str
    impl: str
    timing: Timing = None
    work: float = 0.0
    unit: str = ""  # "GFLOP/s", "img/s" or "us/op"
    ratio: float = None  # speed / speed of the fastest impl of this workload
    note: str = ""

    @property
    def rate(self):
        if self.timing is None or not self.work:
            return None
        t = self.timing.median
        if self.unit == "GFLOP/s":
            return self.work / t / 1e9
        if self.unit == "img/s":
            return self.work / t
        if self.unit == "us/op":
            return t / self.work * 1e6
        return None

    def to_dict(self):
        d = asdict(self)
        d["rate"] = self.rate
        if self.timing is not None:
            d["timing"]["spread"] = self.timing.spread
        return d


def compute_ratios(results):
    """Set each result's ratio: its speed over the fastest impl's speed, per workload."""
    best = {}
    for r in results:
        if r.timing is not None:
            key = (r.group, r.workload)
            best[key] = min(best.get(key, float("inf")), r.timing.median)
    for r in results:
        if r.timing is not None:
            r.ratio = best[(r.group, r.workload)] / r.timing.median
    return results


def _find(results, group, workload, impl):
    for r in results:
        if r.group == group and r.workload == workload and r.impl == impl and r.timing:
            return r
    return None


def _speedup(results, group, workload, impl, peer):
    """Speed of impl over peer (peer time / impl time) on one workload, or None."""
    a, b = _find(results, group, workload, impl), _find(results, group, workload, peer)
    return None if a is None or b is None else b.timing.median / a.timing.median


# Issue 4's targets: (label, group, workload filter, peer, minimum, aim). The figure is the
# speed ratio minigrad / peer (the worst one when several workloads match).
TARGETS = (
    ("GEMM f32 1024^3 vs numpy best OpenBLAS", "gemm", lambda w: w == "1024x1024x1024",
     NUMPY_BEST, 0.5, 0.9),
    ("every CNN GEMM shape vs numpy best", "cnn-gemm", lambda w: True, NUMPY_BEST, 0.6, None),
    ("conv2d fwd+bwd vs PyTorch", "conv", lambda w: "fwd+bwd" in w, TORCH, 0.5, 1.0),
    ("max-pool fwd+bwd vs PyTorch", "pool", lambda w: True, TORCH, 1.0, 2.0),
    ("training step batch 128 vs PyTorch (img/s)", "train", lambda w: w == "N=128", TORCH,
     0.5, 1.0),
    ("tiny-op overhead vs PyTorch (aim: <= 2x its us/op)", "tiny", lambda w: True, TORCH,
     None, 0.5),
)


def evaluate_targets(results):
    """[{target, peer, ratio, worst_workload, minimum, aim, status}] from the measured results."""
    out = []
    for label, group, match, peer, minimum, aim in TARGETS:
        workloads = sorted({r.workload for r in results if r.group == group and match(r.workload)})
        ratios = [(_speedup(results, group, w, MINIGRAD, peer), w) for w in workloads]
        ratios = [(x, w) for x, w in ratios if x is not None]
        entry = {"target": label, "peer": peer, "minimum": minimum, "aim": aim,
                 "ratio": None, "worst_workload": None}
        if not ratios and peer == NUMPY_BEST:  # child failed: fall back to numpy as-is
            ratios = [(_speedup(results, group, w, MINIGRAD, REFERENCE), w) for w in workloads]
            ratios = [(x, w) for x, w in ratios if x is not None]
            entry["peer"] = REFERENCE + " (numpy best unavailable)"
        if not ratios:
            entry["status"] = "not measured"
        else:
            ratio, worst = min(ratios)
            entry.update(ratio=ratio, worst_workload=worst)
            if minimum is not None and ratio < minimum:
                entry["status"] = "MISSED"
            elif aim is not None and ratio >= aim:
                entry["status"] = "aim met"
            else:
                entry["status"] = "met" if minimum is not None else "below aim"
        out.append(entry)
    return out


# --------------------------------------------------------------------------------------------
# environment


def _threadpool_blas():
    """What threadpoolctl reports for the BLAS libraries loaded here ([] if not installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "architecture", "version", "num_threads", "threading_layer",
            "filepath")
    return [{k: d.get(k) for k in keys} for d in threadpool_info() if d.get("user_api") == "blas"]


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gemm_module():
    try:
        from .kernels.cpu import gemm
    except ImportError:
        return None
    return gemm


def bench_threads(cfg=None):
    """Thread count every library gets: cfg.threads, else our GEMM's (OMP_NUM_THREADS or all
    cores)."""
    if cfg is not None and cfg.threads:
        return int(cfg.threads)
    gemm = _gemm_module()
    if gemm is not None and not os.environ.get("MINIGRAD_DISABLE_EXT"):
        return int(gemm.get_num_threads())
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


def _import_torch(cfg):
    if not cfg.torch:
        return None
    try:
        import torch
    except Exception:  # noqa: BLE001  (a broken torch install must not break the benchmark)
        return None
    return torch


def machine_info(threads, torch=None):
    from .backend import cpu

    gemm = _gemm_module()
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "threads": threads,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "openblas_env": {k: os.environ[k] for k in OPENBLAS_TUNING_VARS if k in os.environ},
        "malloc_env": {k: os.environ.get(k) for k in MALLOC_ENV},
        "blas_this_process": _threadpool_blas(),
        "threadpoolctl": _has_threadpoolctl(),
        "gemm_isa": None if gemm is None else gemm.isa(),
        "gemm_available_isas": None if gemm is None else list(gemm.available_isas()),
        "gemm_openmp": None if gemm is None else bool(gemm.has_openmp()),
        "kernel_sources": cpu.kernel_sources(),
        "loadavg_start": _loadavg(),
    }
    return info


def _has_threadpoolctl():
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def _loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


class _ThreadLimits:
    """For cfg.threads: our GEMM, and every OpenMP/BLAS pool threadpoolctl sees, at n threads;
    restored on exit. Nothing when n is 0 (the defaults are used and merely recorded)."""

    def __init__(self, n):
        self.n, self.ctx, self.gemm_prev = n, None, None

    def __enter__(self):
        if not self.n:
            return self
        gemm = _gemm_module()
        if gemm is not None:
            self.gemm_prev = gemm.get_num_threads()
            gemm.set_num_threads(self.n)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return self
        self.ctx = threadpool_limits(self.n)
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.restore_original_limits()
        if self.gemm_prev is not None:
            _gemm_module().set_num_threads(self.gemm_prev)


class _BlasThreads:
    """OpenBLAS (only BLAS, not OpenMP) at n threads while active, if threadpoolctl is here."""

    def __init__(self, n):
        self.n, self.ctx = n, None

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return self
        self.ctx = threadpool_limits(self.n, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.restore_original_limits()


# --------------------------------------------------------------------------------------------
# child processes


def _child_env(drop_openblas_tuning=False, extra=None):
    env = dict(os.environ)
    env.update({k: v for k, v in MALLOC_ENV.items() if k not in env})
    if drop_openblas_tuning:
        for k in OPENBLAS_TUNING_VARS:
            env.pop(k, None)
    env.update(extra or {})
    return env


def _threads_env(threads):
    return {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}


def _run_child(task, env, timeout=None):
    """Run `python -m minigrad.bench --child` on one task (a JSON dict); its JSON answer."""
    proc = subprocess.run([sys.executable, "-m", "minigrad.bench", "--child"],
                          input=json.dumps(task), env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"child {task['task']} failed: " + " | ".join(tail))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child_numpy_gemm(task):
    """numpy best: np.matmul on every case, in this (clean-environment) process; one round's
    samples per case."""
    cfg = Config(**task["config"])
    rng = np.random.default_rng(0)
    out = []
    with _BlasThreads(task["threads"]):
        blas = _threadpool_blas()
        for spec in task["cases"]:
            a, b = _numpy_product(*make_operands(rng, spec), spec)
            out.append(_sample_round(cfg, lambda: np.matmul(a, b), task["round"]))
    return {"blas": blas, "times": out}


def _child_train(task):
    cfg = Config(**task["config"])
    from .backend import cpu

    out = []
    with _BlasThreads(task["threads"]):
        for batch in task["batches"]:
            step, _ = minigrad_train_step(batch)
            # Not a target's peer and slow: fewer repeats than the in-process impls.
            out.append(asdict(measure(step, warmup=1, min_repeats=max(3, cfg.min_repeats // 3),
                                      max_repeats=cfg.max_repeats,
                                      min_time=cfg.train_min_time / 2)))
    return {"timings": out, "kernel_sources": cpu.kernel_sources()}


def _child_main():
    task = json.loads(sys.stdin.read())
    handler = {"numpy_gemm": _child_numpy_gemm, "train": _child_train}[task["task"]]
    print(json.dumps(handler(task)))


# --------------------------------------------------------------------------------------------
# workloads: each returns a list of Results (in-process impls) and registers progress


def _gemm_results(cfg, groups, threads, torch, progress):
    """groups: [(group, [(label, via, spec)])]. minigrad, reference and torch are timed
    here, numpy best in a child process; each round runs every case of every impl, then the
    child. Returns (results, numpy-best child info)."""
    from .backend import cpu, reference

    rng = np.random.default_rng(0)
    cases = []  # (group, label, spec, impls)
    for group, group_cases in groups:
        for label, via, spec in group_cases:
            a, b = make_operands(rng, spec)
            ta, tb = spec["trans_a"], spec["trans_b"]
            # minigrad: the very function the library called (cpu._gemm_2d skips the checks)
            ours = cpu._gemm_2d if via == "_gemm_2d" else cpu.matmul
            impls = [(MINIGRAD, lambda a=a, b=b, ta=ta, tb=tb, f=ours: f(a, b, trans_a=ta,
                                                                          trans_b=tb)),
                     (REFERENCE, lambda a=a, b=b, ta=ta, tb=tb: reference.matmul(
                         a, b, trans_a=ta, trans_b=tb))]
            if torch is not None:
                at, bt = (torch.from_numpy(x) for x in _numpy_product(a, b, spec))
                impls.append((TORCH, lambda at=at, bt=bt: torch.matmul(at, bt)))
            cases.append((group, label, spec, impls))
    times = [{impl: [] for impl, _ in impls} for *_, impls in cases]
    child_times = [[] for _ in cases] if cfg.numpy_child else None
    child_info = {}
    env = _child_env(drop_openblas_tuning=True, extra=_threads_env(threads))
    for rnd in range(cfg.rounds):
        for (group, label, _, impls), t in zip(cases, times):
            progress.set(f"{group} {label}" + (f" (round {rnd + 1})" if cfg.rounds > 1 else ""))
            with _BlasThreads(threads):
                for impl, fn in impls:
                    t[impl] += _sample_round(cfg, fn, rnd)
            progress.step(len(impls) / cfg.rounds)
        if child_times is not None and "error" not in child_info:
            progress.set(f"numpy best (child process, {len(cases)} GEMMs)")
            task = {"task": "numpy_gemm", "threads": threads, "round": rnd,
                    "config": asdict(cfg), "cases": [c[2] for c in cases]}
            try:
                answer = _run_child(task, env)
                child_info["blas"] = answer["blas"]
                for acc, new in zip(child_times, answer["times"]):
                    acc += new
            except Exception as exc:  # noqa: BLE001
                child_info = {"error": str(exc)}
            progress.step(len(cases) / cfg.rounds)
    results = []
    for i, (group, label, spec, impls) in enumerate(cases):
        m, n, k = spec_mnk(spec)
        flops = 2.0 * m * n * k
        for impl, _ in impls:
            results.append(Result(group, label, impl, Timing.from_times(times[i][impl]), flops,
                                  "GFLOP/s"))
        if child_times is not None and "error" not in child_info:
            results.append(Result(group, label, NUMPY_BEST, Timing.from_times(child_times[i]),
                                  flops, "GFLOP/s",
                                  note="child process, OPENBLAS_CORETYPE/L2_SIZE unset"))
    return results, child_info


def _conv_results(cfg, threads, torch, progress):
    from .backend import cpu, reference

    rng = np.random.default_rng(1)
    one, zero = (1, 1), (0, 0)
    results = []
    for batch in cfg.batches:
        for name, C, O, H in CONV_LAYERS:
            x = rng.standard_normal((batch, C, H, H)).astype(np.float32)
            w = (rng.standard_normal((O, C, 3, 3)) * 0.1).astype(np.float32)
            b = rng.standard_normal(O).astype(np.float32)
            OH = H - 2
            gy = rng.standard_normal((batch, O, OH, OH)).astype(np.float32)
            flops = 2.0 * batch * O * OH * OH * C * 9
            for kind in ("fwd", "fwd+bwd"):
                label = f"{name} {C}->{O} {H}x{H} N={batch} {kind}"
                progress.set(f"conv {label}")
                impls = []
                for impl, k in ((MINIGRAD, cpu), (REFERENCE, reference)):
                    impls.append((impl, _conv_kernel_fn(k, kind, x, w, b, gy, one, zero)))
                if torch is not None:
                    impls.append((TORCH, _conv_torch_fn(torch, kind, x, w, b, gy)))
                work = flops * (1 if kind == "fwd" else 3)
                with _BlasThreads(threads):
                    timings = _measure_impls(cfg, impls, progress=progress)
                for impl, timing in timings.items():
                    results.append(Result("conv", label, impl, timing, work, "GFLOP/s"))
    return results


def _conv_kernel_fn(k, kind, x, w, b, gy, one, zero):
    if kind == "fwd":
        return lambda: k.conv2d_forward(x, w, b, one, zero)

    def fwd_bwd():
        k.conv2d_forward(x, w, b, one, zero)
        k.conv2d_grad_input(gy, w, x.shape, one, zero)
        k.conv2d_grad_weight(x, gy, w.shape, one, zero)
        gy.sum(axis=(0, 2, 3))

    return fwd_bwd


def _conv_torch_fn(torch, kind, x, w, b, gy):
    F = torch.nn.functional
    xt, wt, bt, gyt = (torch.from_numpy(a) for a in (x, w, b, gy))
    if kind == "fwd":
        def fwd():
            with torch.no_grad():
                F.conv2d(xt, wt, bt)
        return fwd
    leaves = [t.clone().requires_grad_() for t in (xt, wt, bt)]

    def fwd_bwd():
        for t in leaves:
            t.grad = None
        F.conv2d(*leaves).backward(gyt)

    return fwd_bwd


def _pool_results(cfg, torch, progress):
    from .backend import cpu, reference

    rng = np.random.default_rng(2)
    k, zero = (2, 2), (0, 0)
    results = []
    for batch in cfg.batches:
        for name, C, H in POOL_LAYERS:
            x = rng.standard_normal((batch, C, H, H)).astype(np.float32)
            gy = rng.standard_normal((batch, C, H // 2, H // 2)).astype(np.float32)
            label = f"{name} ({batch},{C},{H},{H}) 2x2 fwd+bwd"
            progress.set(f"pool {label}")
            impls = [(impl, _pool_kernel_fn(mod, x, gy, k, zero))
                     for impl, mod in ((MINIGRAD, cpu), (REFERENCE, reference))]
            if torch is not None:
                xt = torch.from_numpy(x).clone().requires_grad_()
                gyt = torch.from_numpy(gy)

                def t_fn(xt=xt, gyt=gyt):
                    xt.grad = None
                    torch.nn.functional.max_pool2d(xt, 2).backward(gyt)

                impls.append((TORCH, t_fn))
            for impl, timing in _measure_impls(cfg, impls, progress=progress).items():
                results.append(Result("pool", label, impl, timing))
    return results


def _pool_kernel_fn(mod, x, gy, k, zero):
    def fn():
        _, argmax = mod.max_pool2d_forward(x, k, k, zero)
        mod.max_pool2d_backward(gy, argmax, x.shape, k, k, zero)

    return fn


# ---- training step


def _have_nn():
    """Whether mg.nn / mg.optim provide what the CNN needs (they are written separately)."""
    try:
        import minigrad as mg

        nn, optim = mg.nn, mg.optim
        needed = [getattr(nn, n) for n in ("Sequential", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
                                           "Linear")]
        needed.append(optim.Adam)
        needed.append(getattr(nn, "CrossEntropyLoss", None) or nn.functional.cross_entropy)
    except (AttributeError, ImportError):
        return False
    return True


def minigrad_train_step(batch, seed=0):
    """(step(), how) for one Adam training step of the CNN on a fixed random batch.

    Uses mg.nn + mg.optim.Adam when they exist, else the same network from core ops
    (conv2d, max_pool2d, relu, matmul, log_softmax) with Adam written out on the raw arrays.
    """
    import minigrad as mg

    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = mg.tensor(rng.integers(0, 10, batch))
    if _have_nn():
        nn = mg.nn
        mg.manual_seed(seed)
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = mg.optim.Adam(net.parameters(), lr=1e-3)
        if hasattr(nn, "CrossEntropyLoss"):
            loss_fn = nn.CrossEntropyLoss()
        else:
            loss_fn = nn.functional.cross_entropy

        def step():
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            return loss

        return step, "mg.nn + mg.optim.Adam"
    return _core_ops_train_step(x, y, rng), "core ops + hand-written Adam (mg.nn/optim absent)"


def _core_ops_train_step(x, y, rng):
    import minigrad as mg
    from .ops.conv import conv2d, max_pool2d

    def param(*shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return mg.tensor(rng.uniform(-bound, bound, shape).astype(np.float32), requires_grad=True)

    params = [param(32, 1, 3, 3, fan_in=9), param(32, fan_in=9),
              param(64, 32, 3, 3, fan_in=288), param(64, fan_in=288),
              param(128, 1600, fan_in=1600), param(128, fan_in=1600),
              param(10, 128, fan_in=128), param(10, fan_in=128)]
    w1, b1, w2, b2, w3, b3, w4, b4 = params
    m = [np.zeros_like(p._data) for p in params]
    v = [np.zeros_like(p._data) for p in params]
    n = x.shape[0]
    rows = mg.arange(n)
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-8
    t = [0]

    def step():
        for p in params:
            p.grad = None
        h = max_pool2d(mg.relu(conv2d(x, w1, b1)), 2)
        h = max_pool2d(mg.relu(conv2d(h, w2, b2)), 2).reshape(n, 1600)
        h = mg.relu(h @ w3.T + b3)
        logits = h @ w4.T + b4
        loss = -mg.log_softmax(logits, 1)[rows, y].mean()
        loss.backward()
        t[0] += 1
        c1, c2 = 1 - beta1 ** t[0], 1 - beta2 ** t[0]
        with mg.no_grad():
            for p, mi, vi in zip(params, m, v):
                g = p.grad._data
                mi *= beta1
                mi += (1 - beta1) * g
                vi *= beta2
                vi += (1 - beta2) * g * g
                p._data -= (lr / c1) * mi / (np.sqrt(vi / c2) + eps)
        return loss

    return step


def torch_train_step(torch, batch, seed=0):
    nn = torch.nn
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _train_results(cfg, threads, torch, progress):
    results, how = [], None
    for batch in cfg.batches:
        label = f"N={batch}"
        progress.set(f"train step {label}")
        step, how = minigrad_train_step(batch)
        impls = [(MINIGRAD, step)]
        if torch is not None:
            impls.append((TORCH, torch_train_step(torch, batch)))
        with _BlasThreads(threads):
            timings = _measure_impls(cfg, impls, train=True, progress=progress)
        for impl, timing in timings.items():
            results.append(Result("train", label, impl, timing, batch, "img/s",
                                  note=how if impl == MINIGRAD else ""))
    if cfg.train_reference:
        progress.set("train step on the reference kernels (child process)")
        task = {"task": "train", "batches": list(cfg.batches), "config": asdict(cfg),
                "threads": threads}
        env = _child_env(extra={"MINIGRAD_DISABLE_EXT": "1", **_threads_env(threads)})
        try:
            answer = _run_child(task, env)
            for batch, t in zip(cfg.batches, answer["timings"]):
                results.append(Result("train", f"N={batch}", REFERENCE, Timing(**t), batch,
                                      "img/s", note="MINIGRAD_DISABLE_EXT=1, child process"))
        except Exception as exc:  # noqa: BLE001
            results.append(Result("train", f"N={cfg.batches[-1]}", REFERENCE,
                                  note=f"failed: {exc}"))
        progress.step(len(cfg.batches))
    return results, how


# ---- tiny-op overhead


def _tiny_results(cfg, torch, progress):
    """A chain of L (mul, add) pairs and a sum on (4,4) tensors, forward + backward.

    Ops per call: 2L + 1; the figure is microseconds per op (forward and backward together).
    """
    import minigrad as mg

    L = cfg.tiny_chain
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((4, 4)).astype(np.float32) for _ in range(3)]
    label = f"{L}x(mul,add)+sum on (4,4), fwd+bwd"
    progress.set("tiny ops")

    def chain(x, a, b):
        for t in (x, a, b):
            t.grad = None
        y = x
        for _ in range(L):
            y = y * a + b
        y.sum().backward()

    leaves = [mg.tensor(a, requires_grad=True) for a in arrays]
    impls = [(MINIGRAD, lambda: chain(*leaves))]
    if torch is not None:
        tleaves = [torch.tensor(a, requires_grad=True) for a in arrays]
        impls.append((TORCH, lambda: chain(*tleaves)))
    timings = _measure_impls(cfg, impls, progress=progress)
    return [Result("tiny", label, impl, t, 2 * L + 1, "us/op") for impl, t in timings.items()]


# --------------------------------------------------------------------------------------------
# the run


class _Progress:
    """tqdm over the (workload, impl) measurements, or nothing."""

    def __init__(self, total, enabled):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="minigrad bench", file=sys.stderr,
                            mininterval=0.5, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")

    def set(self, text):
        if self.bar is not None:
            self.bar.set_postfix_str(text[:60], refresh=True)

    def step(self, n=1):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _count_cases(cfg, torch, n_cnn_gemms):
    peers = 3 if torch is not None else 2  # minigrad, reference (, torch) in-process
    n_gemm = len(cfg.gemm_sizes) + n_cnn_gemms
    total = n_gemm * peers + (n_gemm if cfg.numpy_child else 0)
    total += len(cfg.batches) * len(CONV_LAYERS) * 2 * peers
    total += len(cfg.batches) * len(POOL_LAYERS) * peers
    total += len(cfg.batches) * (peers - 1) + (len(cfg.batches) if cfg.train_reference else 0)
    total += peers - 1
    return total


def run_benchmarks(cfg):
    """Run every workload of cfg; a report dict {machine, config, results, targets, ...}."""
    torch = _import_torch(cfg)
    threads = bench_threads(cfg)
    torch_threads = None if torch is None else torch.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    t_start = time.perf_counter()
    limits = _ThreadLimits(cfg.threads).__enter__()
    machine = machine_info(threads, torch)
    square = [(f"{n}x{n}x{n}", "matmul", square_spec(n)) for n in cfg.gemm_sizes]
    cnn = ([(f"N={cfg.cnn_gemm_batch} {label}", via, spec)
            for label, via, spec in record_cnn_gemms(cfg.cnn_gemm_batch)]
           if cfg.cnn_gemm_batch else [])
    machine["cnn_gemms"] = [{"workload": label, "via": via, **spec} for label, via, spec in cnn]
    progress = _Progress(_count_cases(cfg, torch, len(cnn)), cfg.progress)
    try:
        results, child_info = _gemm_results(cfg, [("gemm", square), ("cnn-gemm", cnn)],
                                            threads, torch, progress)
        if cfg.numpy_child:
            machine["numpy_best_child"] = child_info
        results += _conv_results(cfg, threads, torch, progress)
        results += _pool_results(cfg, torch, progress)
        train, how = _train_results(cfg, threads, torch, progress)
        results += train
        machine["train_step_impl"] = how
        results += _tiny_results(cfg, torch, progress)
    finally:
        progress.close()
        limits.__exit__(None, None, None)
        if torch is not None:
            torch.set_num_threads(torch_threads)
    machine["loadavg_end"] = _loadavg()
    order = {impl: i for i, impl in enumerate(IMPL_ORDER)}
    groups = ["gemm", "cnn-gemm", "conv", "pool", "train", "tiny"]
    workloads = {}
    for r in results:
        workloads.setdefault((r.group, r.workload), len(workloads))
    results.sort(key=lambda r: (groups.index(r.group), workloads[(r.group, r.workload)],
                                order[r.impl]))
    compute_ratios(results)
    return {"machine": machine, "config": asdict(cfg), "results": results,
            "targets": evaluate_targets(results), "runtime_s": time.perf_counter() - t_start}


# --------------------------------------------------------------------------------------------
# reporting


def _fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


GROUP_TITLES = {
    "gemm": "float32 GEMM, square (M x N x K)",
    "cnn-gemm": "float32 GEMM, the CNN's GEMMs as one training step calls them (M x N x K)",
    "conv": "conv2d (kernel level: forward = y; fwd+bwd = y, dx, dW, db); GFLOP/s counts 3x fwd",
    "pool": "max_pool2d 2x2 stride 2, forward + backward",
    "train": "training step (forward, cross-entropy, backward, Adam), images/s",
    "tiny": "per-op overhead with autograd, microseconds per op (lower is better)",
}


def format_report(report):
    """The printed table: machine line, one block per group, then the targets."""
    m = report["machine"]
    lines = [
        f"minigrad bench ({report['config']['name']}) - {m['date']}",
        f"CPU {m['cpu_model']} ({m['cpu_count']} cores), {m['threads']} thread(s) for every "
        f"library; numpy {m['numpy']}, torch {m['torch'] or 'not installed'}; "
        f"our GEMM ISA {m['gemm_isa']}; load avg {_fmt_load(m.get('loadavg_start'))}",
        f"OpenBLAS (threadpoolctl): this process {_fmt_blas(m['blas_this_process'])}; "
        f"numpy best child {_fmt_blas(m.get('numpy_best_child', {}).get('blas'))}"
        + (f"; env here sets {m['openblas_env']}" if m["openblas_env"] else ""),
    ]
    load = m.get("loadavg_start") or [0.0]
    if load[0] > 0.5 * (m["cpu_count"] or 1):
        lines.append(f"WARNING: the machine was busy (1-min load {load[0]:.2f} on "
                     f"{m['cpu_count']} cores at the start): a thread descheduled in a "
                     "parallel region stalls it for milliseconds, so multi-threaded timings "
                     "are unreliable. Rerun when it is quiet (or with OMP_NUM_THREADS=1).")
    if m.get("numpy_best_child", {}).get("error"):
        lines.append(f"numpy best child FAILED: {m['numpy_best_child']['error']}")
    sources = sorted(set(m["kernel_sources"].values()))
    lines.append(f"kernel sources: {', '.join(sources)}; training step: {m.get('train_step_impl')}")
    header = f"  {'workload':44s} {'impl':10s} {'median':>10s} {'spread':>7s} {'rate':>10s} " \
             f"{'unit':7s} {'x fastest':>9s}"
    current = None
    for r in report["results"]:
        if r.group != current:
            current = r.group
            lines += ["", GROUP_TITLES[r.group], header]
            last = None
        name = r.workload if r.workload != last else ""
        last = r.workload
        if r.timing is None:
            lines.append(f"  {name:44s} {r.impl:10s} {'-':>10s}  {r.note}")
            continue
        rate = r.rate
        rate_s = "-" if rate is None else (f"{rate:10.1f}" if rate >= 10 else f"{rate:10.2f}")
        lines.append(f"  {name[:44]:44s} {r.impl:10s} {_fmt_time(r.timing.median):>10s} "
                     f"{'+-' + format(100 * r.timing.spread, '.0f') + '%':>7s} {rate_s:>10s} "
                     f"{r.unit:7s} {r.ratio:9.2f}")
    lines += ["", "Targets (speed of minigrad / peer; the worst workload when several match):"]
    for t in report["targets"]:
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        goal = (f">= {t['minimum']}" if t["minimum"] is not None else "") + \
               (f" (aim {t['aim']})" if t["aim"] is not None else "")
        worst = f"  [{t['worst_workload']}]" if t["worst_workload"] else ""
        lines.append(f"  {t['target']:52s} {ratio:>6s} {goal:18s} {t['status']}{worst}")
    lines.append(f"\nruntime {report['runtime_s']:.1f} s")
    return "\n".join(lines)


def _fmt_load(load):
    return "-" if not load else "/".join(f"{x:.2f}" for x in load)


def _fmt_blas(blas):
    if not blas:
        return "n/a (threadpoolctl not installed)" if not _has_threadpoolctl() else "-"
    b = blas[0]
    return f"{b.get('internal_api')} {b.get('version')} kernel {b.get('architecture')}, " \
           f"{b.get('num_threads')} threads"


def report_to_json(report):
    return {"machine": report["machine"], "config": report["config"],
            "results": [r.to_dict() for r in report["results"]],
            "targets": report["targets"], "runtime_s": report["runtime_s"]}


def write_plot(report, path):
    """A horizontal bar chart: each impl's speed relative to the fastest, per workload."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = []
    for r in report["results"]:
        key = (r.group, r.workload)
        if key not in workloads:
            workloads.append(key)
    impls = [i for i in IMPL_ORDER if any(r.impl == i for r in report["results"])]
    height = 0.8 / max(len(impls), 1)
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(workloads) * max(len(impls), 2) / 2 + 1.5))
    for j, impl in enumerate(impls):
        ys, xs = [], []
        for i, key in enumerate(workloads):
            r = next((r for r in report["results"]
                      if (r.group, r.workload) == key and r.impl == impl and r.timing), None)
            if r is not None:
                ys.append(i + (j - (len(impls) - 1) / 2) * height)
                xs.append(r.ratio)
        ax.barh(ys, xs, height=height, label=impl)
    ax.set_yticks(range(len(workloads)))
    ax.set_yticklabels([f"{g}: {w}" for g, w in workloads], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speed relative to the fastest implementation (1 = fastest)")
    ax.set_xlim(0, 1.05)
    m = report["machine"]
    ax.set_title(f"minigrad bench ({report['config']['name']}): {m['cpu_model']}, "
                 f"{m['threads']} threads", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# entry points


def _reexec(args):
    """Run the benchmark again in a child interpreter with the malloc thresholds set."""
    cmd = [sys.executable, "-m", "minigrad", "bench"]
    if args.quick:
        cmd.append("--quick")
    if getattr(args, "json", None):
        cmd += ["--json", args.json]
    if getattr(args, "plot", None):
        cmd += ["--plot", args.plot]
    env = _child_env(extra={_CHILD_ENV: "1"})
    try:
        return subprocess.run(cmd, env=env).returncode
    except KeyboardInterrupt:
        return 130


def bench_main(args):
    """`minigrad bench [--quick] [--json PATH] [--plot PATH]`; returns the exit code."""
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("minigrad bench: --plot needs matplotlib, which is not installed; "
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


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        _child_main()
    else:
        sys.exit("usage: python -m minigrad bench [--quick] [--json PATH] [--plot PATH]")
