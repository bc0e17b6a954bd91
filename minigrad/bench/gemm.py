"""GEMM workloads: square products and the CNN's own GEMMs (recorded from a real training step),
timed for minigrad, the numpy reference and torch here, and for "numpy best" in a child."""

import json
import sys
from dataclasses import asdict

import numpy as np

from .child import _child_env, _run_child, _threads_env
from .config import MINIGRAD, NUMPY_BEST, REFERENCE, TORCH, Config
from .machine import _BlasThreads, _threadpool_blas
from .results import Result
from .timing import Timing, _sample_round
from .train import minigrad_train_step


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


# Which op a recorded 2-D GEMM served. (The large layers' convolutions issue none: they are
# implicit GEMMs, gemm.conv2d_*_implicit; the small layers' GEMMs are batched, not recorded.)
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
    from ..backend import cpu

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


def _gemm_results(cfg, groups, threads, torch, progress):
    """groups: [(group, [(label, via, spec)])]. minigrad, reference and torch are timed
    here, numpy best in a child process; each round runs every case of every impl, then the
    child. Returns (results, numpy-best child info)."""
    from ..backend import cpu, reference

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
