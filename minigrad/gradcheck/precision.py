"""float32 kernels against their float64 selves (`mg.gradcheck_precision`).

Finite differences are too coarse in float32 (at eps=1e-6, exp'(1) comes out 8.7e-3 off),
so a float32 kernel is checked in two stages:
  1. the float64 backward is verified by finite differences (`gradcheck_report`);
  2. on the same values (the inputs rounded to float32 once, then used by both), the float32
     forward and backward (v^T J for a random v, also rounded) are compared with float64.

The budget of each element i is the probabilistic rounding-error bound of a length-K
reduction (Higham & Mary, 2019):  lam * sqrt(K) * eps * s_i + eps * |y_i|,
  eps  = the low dtype's machine epsilon (2^-23 for float32),
  s_i  = the same computation on |inputs| (and |v|) in float64: sum |a||b| for products
         and sums, the size of the terms that were rounded,
  K    = the reduction length, estimated as the largest value of the computation on
         all-ones inputs (exactly the number of terms of a sum of products), or given,
  lam  = 2 (safety factor), plus one eps of the result for its final rounding.
A kernel that accumulates in a lower precision than its dtype (or in a wrong order that
loses terms) exceeds it; a correct float32 kernel stays well inside. Errors are reported in
ulps of the low dtype and relative terms at the worst element.
"""

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..autograd import grad
from ..tensor import Tensor
from ._common import GradcheckError, as_tuple, differentiable, fn_name, index_tuple, to_numpy

LAMBDA = 2.0


@dataclass
class PrecisionEntry:
    """The worst element of one compared quantity (a forward output or a gradient)."""

    what: str
    index: tuple
    low: float
    high: float
    abs_err: float
    ulps: float
    rel_err: float
    budget: float
    budget_ulps: float
    reduction_length: float
    scale: float
    passed: bool

    def describe(self, dtype):
        return (f"{self.what}: worst at element {self.index}: {dtype} {self.low:.8g}, float64 "
                f"{self.high:.8g}, error {self.abs_err:.2e} = {self.ulps:.3g} ulps (rel "
                f"{self.rel_err:.2e}); budget {self.budget:.2e} = {self.budget_ulps:.3g} ulps "
                f"(K = {self.reduction_length:g}, s = {self.scale:.4g})")

    def to_dict(self):
        d = dict(self.__dict__)
        d["index"] = list(self.index)
        return d


@dataclass
class PrecisionReport:
    function: str
    dtype: str
    passed: bool = True
    float64_message: str = ""
    entries: List[PrecisionEntry] = field(default_factory=list)
    eps: float = 0.0
    float64: Optional[object] = None  # the stage-1 GradcheckReport

    def __bool__(self):
        return self.passed

    @property
    def message(self):
        if self.float64_message:
            return (f"{self.function}: the float64 backward itself is wrong (stage 1, finite "
                    f"differences), so {self.dtype} is not compared:\n{self.float64_message}")
        failing = [e for e in self.entries if not e.passed]
        head = (f"{self.function}: {self.dtype} " +
                (f"exceeds its rounding-error budget in {len(failing)} of {len(self.entries)} "
                 "quantities" if failing else "forward and backward are within budget"))
        lines = [head] + ["  " + e.describe(self.dtype) for e in (failing or self.entries)]
        lines.append(f"  budget per element: {LAMBDA:g} * sqrt(K) * eps * s + eps * |float64|, "
                     f"eps = {self.eps:.3g} ({self.dtype}), K = reduction length (the op on "
                     "all-ones inputs), s = the op on |inputs| in float64")
        return "\n".join(lines)

    def to_dict(self):
        return {"function": self.function, "dtype": self.dtype, "passed": self.passed,
                "eps": self.eps, "entries": [e.to_dict() for e in self.entries],
                "float64": self.float64.to_dict() if self.float64 is not None else None,
                "message": self.message}


def _leaves(arrays, device, dtype):
    return [Tensor._make(device.xp.asarray(a).astype(dtype), device).requires_grad_()
            if a is not None else None for a in arrays]


def _run(fn, args, positions, leaves, v=None):
    """Outputs of fn with `leaves` at `positions`, and (when v is given) v^T J per leaf."""
    outs = as_tuple(fn(*_with(args, positions, leaves)))
    if v is None:
        return [to_numpy(o._data).astype(np.float64) for o in outs], None
    pairs = [(o, vj) for o, vj in zip(outs, v) if differentiable(o)]
    grads = grad([o for o, _ in pairs], leaves, grad_outputs=[vj for _, vj in pairs],
                 allow_unused=True)
    return ([to_numpy(o._data).astype(np.float64) for o in outs],
            [np.zeros(t.shape) if g is None else to_numpy(g._data).astype(np.float64)
             for t, g in zip(leaves, grads)])


def _worst(what, low, high, scale, K, eps, dtype):
    with np.errstate(all="ignore"):
        err = np.abs(low - high)
        err = np.where(np.isnan(err), np.inf, err)
        budget = LAMBDA * np.sqrt(K) * eps * scale + eps * np.abs(high)
        ratio = np.where(budget > 0, err / budget, np.where(err > 0, np.inf, 0.0))
    k = int(np.argmax(ratio)) if ratio.size else 0
    if not ratio.size:
        return None
    flat = lambda a: float(np.asarray(a).reshape(-1)[k])  # noqa: E731
    ulp = float(np.spacing(np.abs(np.asarray(flat(high), dtype=dtype))))
    e, b, h = flat(err), flat(budget), flat(high)
    return PrecisionEntry(what, index_tuple(k, np.shape(low)), flat(low), h, e,
                          e / ulp if ulp else float("inf"), e / abs(h) if h else float("inf"),
                          b, b / ulp if ulp else float("inf"), float(K), flat(scale), e <= b)


def _reduction_length(values, given):
    if given is not None:
        return float(given)
    finite = np.abs(values[np.isfinite(values)])
    return max(1.0, float(finite.max())) if finite.size else 1.0


def gradcheck_precision(fn, inputs, dtype=np.float32, *, seed=0, reduction_length=None,
                        raise_exception=True, name=None, fast_mode=False):
    """Check a low-precision (default float32) forward and backward against float64.

    Stage 1 gradchecks the float64 version; stage 2 compares, on the same (rounded) values,
    each output and each input's gradient within the budget described in this module's
    docstring. Inputs with requires_grad (any float dtype) are the ones compared.
    Returns a PrecisionReport (truthy when it passed); raises GradcheckError on failure
    unless raise_exception=False. fast_mode=True makes stage 1 use random projections
    (gradcheck's fast mode): a few forward calls instead of two per input element.
    """
    from .check import gradcheck_report

    low = np.dtype(dtype)
    fname = fn_name(fn, name)
    args = list(as_tuple(inputs))
    positions = [p for p, a in enumerate(args)
                 if isinstance(a, Tensor) and a.requires_grad and a.dtype.kind == "f"]
    if not positions:
        raise ValueError("gradcheck_precision: no input is a floating Tensor with requires_grad=True")
    device = args[positions[0]].device
    # The same values for both: rounded to the low dtype once.
    values = [to_numpy(args[p]._data).astype(low).astype(np.float64) for p in positions]
    report = PrecisionReport(fname, str(low), eps=float(np.finfo(low).eps))
    stage1 = gradcheck_report(fn, _with(args, positions, _leaves(values, device, np.float64)),
                              seed=seed, localize="auto", name=fname, fast_mode=fast_mode)
    report.float64 = stage1
    if not stage1.passed:
        report.passed, report.float64_message = False, stage1.message
        return _finish(report, raise_exception)

    y64, _ = _run(fn, args, positions, _leaves(values, device, np.float64))
    rng = np.random.default_rng(seed)
    v_values = [rng.standard_normal(y.shape).astype(low).astype(np.float64) for y in y64]
    as_dev = lambda vals, dt: [Tensor._make(device.xp.asarray(v).astype(dt), device)  # noqa: E731
                               for v in vals]
    y64, g64 = _run(fn, args, positions, _leaves(values, device, np.float64),
                    as_dev(v_values, np.float64))
    y_low, g_low = _run(fn, args, positions, _leaves(values, device, low), as_dev(v_values, low))
    abs_y, abs_g = _run(fn, args, positions, _leaves([np.abs(v) for v in values], device, np.float64),
                        as_dev([np.abs(v) for v in v_values], np.float64))
    ones_y, ones_g = _run(fn, args, positions, _leaves([np.ones_like(v) for v in values], device,
                                                       np.float64),
                          as_dev([np.ones_like(v) for v in v_values], np.float64))
    for j, (yl, yh, ya, yo) in enumerate(zip(y_low, y64, abs_y, ones_y)):
        entry = _worst(f"forward output {j}", yl, yh, np.maximum(np.abs(ya), np.abs(yh)),
                       _reduction_length(yo, reduction_length), report.eps, low)
        if entry is not None:
            report.entries.append(entry)
    for p, gl, gh, ga, go in zip(positions, g_low, g64, abs_g, ones_g):
        entry = _worst(f"gradient w.r.t. input {p}", gl, gh, np.maximum(np.abs(ga), np.abs(gh)),
                       _reduction_length(go, reduction_length), report.eps, low)
        if entry is not None:
            report.entries.append(entry)
    report.passed = all(e.passed for e in report.entries)
    return _finish(report, raise_exception)


def _with(args, positions, leaves):
    call = list(args)
    for p, t in zip(positions, leaves):
        call[p] = t
    return tuple(call)


def _finish(report, raise_exception):
    if not report.passed and raise_exception:
        raise GradcheckError(report.message)
    return report
