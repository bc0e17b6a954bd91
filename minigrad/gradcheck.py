"""Gradient checking: compare backward with central finite differences, element by element.

For a random grad-output v (never all ones: summing outputs lets errors cancel), the
analytical side is one backward, giving vᵀJ for every input element. The numerical side,
for each input element k, is (v·f(x + eps·e_k) − v·f(x − eps·e_k)) / 2eps. Comparing the
two element by element names the exact input element whose gradient is wrong.
"""

import math
import warnings

import numpy as np

from .autograd import (
    Function, InvalidGradientError, grad, no_grad, set_grad_enabled, strict_gradients,
)
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by `gradcheck` when an analytical gradient disagrees with finite differences."""


class _Failure(Exception):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _fn_name(fn, name):
    if name:
        return name
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type) and issubclass(owner, Function):
        return owner.__name__  # `MyFunction.apply` -> "MyFunction", not "apply"
    return getattr(fn, "__name__", type(fn).__name__)


def _prepare_inputs(inputs):
    """Private copies of the inputs (so perturbing them is safe and stride-0 views become
    real arrays), and the positions of the ones to check."""
    prepared, checked = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            if x.requires_grad and x.dtype != np.float64:
                warnings.warn(
                    f"gradcheck: input {i} is {x.dtype}; only float64 inputs are checked "
                    "(finite differences are not accurate enough in lower precision)",
                    stacklevel=3,
                )
            copy = Tensor._make(x.device.xp.array(x._data, copy=True, order="K"), x.device)
            if x.requires_grad and x.dtype == np.float64:
                copy.requires_grad = True
                checked.append(i)
            prepared.append(copy)
        else:
            prepared.append(x)
    if not checked:
        raise ValueError("gradcheck: no input is a float64 Tensor with requires_grad=True")
    return prepared, checked


def _outputs(fn, inputs):
    outs = _as_tuple(fn(*inputs))
    for j, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {j} of the function is a {type(o).__name__}, not a Tensor")
    return outs


def _to_numpy(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _snapshot(t):
    """A float64 numpy copy of a Tensor's values (never a view of its buffer)."""
    return np.array(_to_numpy(t._data), dtype=np.float64, copy=True)


def _analytical(outputs, inputs, checked, vs):
    """vᵀJ for each differentiable output j and checked input i: result[j][i] (numpy)."""
    result = []
    for out, v in zip(outputs, vs):
        if v is None:
            result.append([np.zeros(inputs[i].shape) for i in checked])
            continue
        try:
            # Strict: a backward returning the wrong dtype is reported, not silently cast.
            with strict_gradients():
                grads = grad(out, [inputs[i] for i in checked], grad_outputs=v,
                             retain_graph=True, allow_unused=True)
        except InvalidGradientError as exc:
            raise _Failure(str(exc)) from None
        row = []
        for i, g in zip(checked, grads):
            if g is None:
                row.append(np.zeros(inputs[i].shape))
                continue
            if g.shape != inputs[i].shape or g.dtype != inputs[i].dtype:
                raise _Failure(
                    f"gradient w.r.t. input {i} has shape {g.shape} and dtype {g.dtype}, but the "
                    f"input has shape {inputs[i].shape} and dtype {inputs[i].dtype}"
                )
            row.append(_to_numpy(g._data).astype(np.float64))
        result.append(row)
    return result


def _numerical(fn, inputs, checked, vs, eps, needs_grad=False):
    """(v·f(x+eps e_k) − v·f(x−eps e_k)) / 2eps for every element k: result[j][i] (numpy).

    Runs without recording, unless fn itself differentiates (gradgradcheck)."""
    result = [[np.zeros(inputs[i].shape) for i in checked] for _ in vs]
    with set_grad_enabled(needs_grad):
        for col, i in enumerate(checked):
            data = inputs[i]._data
            for index in np.ndindex(*data.shape):
                original = data[index].item()
                # Snapshot the outputs before perturbing again: a view op's output shares
                # memory with the input, so keeping the Tensor would see the next perturbation.
                data[index] = original + eps
                plus = [_snapshot(o) for o in _outputs(fn, inputs)]
                data[index] = original - eps
                minus = [_snapshot(o) for o in _outputs(fn, inputs)]
                data[index] = original
                for j, v in enumerate(vs):
                    if v is None:
                        continue
                    diff = plus[j] - minus[j]
                    result[j][col][index] = float((diff * _to_numpy(v._data)).sum()) / (2 * eps)
    return result


def _compare(a, n, atol, rtol):
    """Boolean mask of failing elements and the per-element excess ratio."""
    err = np.abs(a - n)
    tol = atol + rtol * np.abs(n)
    bad = ~(err <= tol)  # NaN counts as failing
    ratio = np.where(np.isnan(err), np.inf, err / tol)
    return bad, ratio


def _report(fname, j, n_outputs, i, x, a, n, bad, ratio, atol, rtol, eps, seed):
    worst = np.unravel_index(int(np.argmax(ratio)), a.shape) if a.size else ()
    aw, nw = float(a[worst]), float(n[worst])
    abs_err = abs(aw - nw)
    rel_err = abs_err / abs(nw) if nw != 0 else math.inf
    others = [tuple(int(k) for k in idx) for idx in np.argwhere(bad)
              if tuple(int(k) for k in idx) != tuple(int(k) for k in worst)][:3]
    out_part = f" (output {j})" if n_outputs > 1 else ""
    lines = [
        f"{fname}: gradient w.r.t. input {i} (shape {x.shape}, {x.dtype}){out_part} is wrong",
        f"  worst at element {tuple(int(k) for k in worst)}: analytical {aw:.6g}, numerical {nw:.6g}, "
        f"abs err {abs_err:.2e}, rel err {rel_err:.2e}",
        f"  tolerance: atol {atol:g} + rtol {rtol:g} * |numerical|;  {int(bad.sum())} of {a.size} "
        f"elements fail" + (f"; also {', '.join(map(str, others))}" if others else ""),
        f"  eps {eps:g}, grad_output: random normal (seed {seed})",
    ]
    return "\n".join(lines)


def check_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, name=None,
                    nondet_tol=0.0, side_checks=True, fn_differentiates=False):
    """The engine behind gradcheck. Returns a dict with `passed`, `message`, `max_abs_err`,
    `max_rel_err` (used by `minigrad gradcheck` to print its table)."""
    fname = _fn_name(fn, name)
    inputs, checked = _prepare_inputs(_as_tuple(inputs))
    report = {"passed": True, "message": "", "max_abs_err": 0.0, "max_rel_err": 0.0}
    try:
        outputs = _outputs(fn, inputs)
        rng = np.random.default_rng(seed)
        vs = [
            Tensor._make(o.device.xp.asarray(rng.standard_normal(o.shape)).astype(o.dtype), o.device)
            if o.requires_grad and o.dtype.kind == "f" else None
            for o in outputs
        ]
        analytical = _analytical(outputs, inputs, checked, vs)
        if side_checks:
            again = _analytical(outputs, inputs, checked, vs)
            for row_a, row_b in zip(analytical, again):
                for i, a, b in zip(checked, row_a, row_b):
                    if not np.allclose(a, b, rtol=0, atol=nondet_tol, equal_nan=True):
                        raise _Failure(f"backward is not reentrant: running it twice gave different "
                                       f"gradients for input {i} (max diff {np.max(np.abs(a - b)):.3g})")
            doubled = _analytical(outputs, inputs, checked, [None if v is None else v * 2 for v in vs])
            for row_a, row_b in zip(analytical, doubled):
                for i, a, b in zip(checked, row_a, row_b):
                    if not np.allclose(2 * a, b, rtol=1e-7, atol=1e-12 + nondet_tol, equal_nan=True):
                        raise _Failure(f"backward is not linear in the grad-output for input {i}")
        numerical = _numerical(fn, inputs, checked, vs, eps, fn_differentiates)
    except _Failure as exc:
        report.update(passed=False, message=f"{fname}: {exc}")
        return report
    messages = []
    for j in range(len(outputs)):
        if vs[j] is None:
            continue
        for col, i in enumerate(checked):
            a, n = analytical[j][col], numerical[j][col]
            if a.size == 0:
                continue
            err = np.abs(a - n)
            err = np.where(np.isnan(err), np.inf, err)  # a NaN gradient is infinitely wrong
            report["max_abs_err"] = max(report["max_abs_err"], float(np.max(err)))
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(np.abs(n) > 0, err / np.abs(n), np.where(err > 0, np.inf, 0.0))
            report["max_rel_err"] = max(report["max_rel_err"], float(np.max(rel)))
            bad, ratio = _compare(a, n, atol, rtol)
            if bad.any():
                messages.append(_report(fname, j, len(outputs), i, inputs[i], a, n, bad, ratio,
                                        atol, rtol, eps, seed))
    if messages:
        report.update(passed=False, message="\n".join(messages))
    return report


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, *, seed=0,
              nondet_tol=0.0, name=None, _fn_differentiates=False):
    """Check `fn`'s gradients against central finite differences, element by element.

    Args:
        fn: takes the tensors in `inputs` and returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or tuple; the float64 ones with requires_grad=True are checked.
        eps, atol, rtol: step and tolerance (|analytical - numerical| <= atol + rtol*|numerical|).
        raise_exception: raise GradcheckError on failure (else return False).
    Returns:
        True when every element of every gradient agrees.

    >>> x = mg.randn(3, 4, dtype=mg.float64, requires_grad=True)
    >>> mg.gradcheck(lambda t: (t * t).tanh(), (x,))
    True
    """
    report = check_gradients(fn, inputs, eps, atol, rtol, seed=seed, name=name,
                             nondet_tol=nondet_tol, side_checks=raise_exception,
                             fn_differentiates=_fn_differentiates)
    if not report["passed"]:
        if raise_exception:
            raise GradcheckError(report["message"])
        return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, *, seed=0, nondet_tol=0.0, name=None):
    """Check second derivatives: gradcheck of (inputs, v) -> grad(fn(inputs), inputs, v)."""
    inputs = _as_tuple(inputs)
    fname = _fn_name(fn, name)
    checked = [i for i, x in enumerate(inputs)
               if isinstance(x, Tensor) and x.requires_grad and x.dtype == np.float64]
    if not checked:
        raise ValueError("gradgradcheck: no input is a float64 Tensor with requires_grad=True")
    outputs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        grad_outputs = [
            Tensor._make(o.device.xp.asarray(rng.standard_normal(o.shape)), o.device)
            for o in outputs
        ]
    grad_outputs = [g.detach().double().requires_grad_() for g in _as_tuple(grad_outputs)]
    n_in = len(inputs)

    def first_derivative(*args):
        xs, vs = args[:n_in], args[n_in:]
        outs = _outputs(fn, xs)
        pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        grads = grad([o for o, _ in pairs], [xs[i] for i in checked],
                     grad_outputs=[v for _, v in pairs], create_graph=True, allow_unused=True)
        return tuple(g if g is not None else xs[i] * 0 for i, g in zip(checked, grads))

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps, atol, rtol,
                     raise_exception, seed=seed, nondet_tol=nondet_tol, name=f"{fname} (2nd order)",
                     _fn_differentiates=True)


def jacobians(fn, inputs, eps=1e-6):
    """Full analytical and numerical Jacobians of fn's first output w.r.t. each checked
    input, as lists of (out.numel, in.numel) arrays: what `minigrad gradcheck --verbose`
    prints side by side."""
    inputs, checked = _prepare_inputs(_as_tuple(inputs))
    out = _outputs(fn, inputs)[0]
    m = out.numel()
    analytical = [np.zeros((m, inputs[i].numel())) for i in checked]
    for row in range(m):
        v = np.zeros(m)
        v[row] = 1.0
        v_t = Tensor._make(out.device.xp.asarray(v.reshape(out.shape)).astype(out.dtype), out.device)
        for col, g in enumerate(_analytical([out], inputs, checked, [v_t])[0]):
            analytical[col][row] = g.reshape(-1)
    numerical = [np.zeros_like(a) for a in analytical]
    with no_grad():
        for col, i in enumerate(checked):
            data = inputs[i]._data
            for k, index in enumerate(np.ndindex(*data.shape)):
                original = data[index].item()
                data[index] = original + eps
                plus = _to_numpy(_outputs(fn, inputs)[0]._data).reshape(-1).astype(np.float64)
                data[index] = original - eps
                minus = _to_numpy(_outputs(fn, inputs)[0]._data).reshape(-1).astype(np.float64)
                data[index] = original
                numerical[col][:, k] = (plus - minus) / (2 * eps)
    return checked, analytical, numerical
