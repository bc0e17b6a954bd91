"""`gradcheck`, `gradcheck_report`, `gradgradcheck`: backward against finite differences.

Modes and their cost (n = elements of a checked input, m = elements of all outputs):
  full (default, fast_mode=False)
      the whole Jacobian, entry by entry: m backward passes (one per output element, giving
      row r for every input) and 2n + 1 forward passes per input (column k from
      f(x + h e_k), f(x - h e_k); f(x) once). Memory m x n floats per input. For the small
      shapes of tests this is milliseconds; it is quadratic in size.
  fast (fast_mode=True, PyTorch's fast mode)
      per input one scalar v^T J u with random v, u: one backward (for all inputs) and two
      forwards per input. An input that fails is re-checked in full, so the message still
      shows true Jacobian entries.
  Both add 3 backwards of side checks (shape, dtype, reentrancy, linearity in v) when
  raise_exception=True, 2 forwards per input element whose one-sided slopes disagree (kink
  confirmation), 14 forwards per diagnosed element (at most 3 per input), and on failure
  the localisation replay (see localize.py).
"""

import warnings

import numpy as np

from ..autograd import grad
from ..tensor import Tensor
from . import diagnose as dg
from ._common import (
    CheckFailure, GradcheckError, as_tuple, differentiable, fn_name, index_tuple, outputs_of,
    prepare_inputs, snapshot, to_numpy, tolerance,
)
from .jacobian import (
    analytical_jacobian, central_and_sides, default_steps, directional, directional_step,
    evaluate, step_description, vjp,
)
from .report import Entry, GradcheckReport, InputErrors, Kink

MAX_DIAGNOSED = 3   # failing input elements diagnosed with the step ladder, per input
MAX_LISTED = 4      # failing entries kept in the report, per input


class GradcheckKinkWarning(UserWarning):
    """gradcheck excluded entries at non-differentiable points (kinks) from pass/fail."""


def _random_vs(outputs, rng):
    return [Tensor._make(o.device.xp.asarray(rng.standard_normal(o.shape)).astype(o.dtype), o.device)
            if differentiable(o) else None for o in outputs]


def _side_checks(outputs, inputs, checked, vs, nondet_tol):
    """Each gradient has its input's shape and dtype (checked inside vjp); backward is
    reentrant (twice the same) and linear in the grad-output."""
    first = vjp(outputs, inputs, checked, vs)
    again = vjp(outputs, inputs, checked, vs)
    for i, a, b in zip(checked, first, again):
        if not np.allclose(a, b, rtol=0, atol=nondet_tol, equal_nan=True):
            raise CheckFailure(f"backward is not reentrant: running it twice gave different "
                               f"gradients for input {i} (max diff {np.max(np.abs(a - b)):.3g})")
    doubled = vjp(outputs, inputs, checked, [None if v is None else v * 2 for v in vs])
    for i, a, b in zip(checked, first, doubled):
        if not np.allclose(2 * a, b, rtol=1e-7, atol=1e-12 + nondet_tol, equal_nan=True):
            raise CheckFailure(f"backward is not linear in the grad-output for input {i}")


class _InputCheck:
    """The full comparison for one checked input: numerical columns, kinks, failures."""

    def __init__(self, ctx, col, i):
        self.ctx, self.col, self.i = ctx, col, i
        self.x = snapshot(ctx.inputs[i])
        self.shape = tuple(ctx.inputs[i].shape)
        self.steps = default_steps(self.x, ctx.eps)

    def run(self, analytical_rows):
        ctx, i = self.ctx, self.i
        n = self.x.size
        elements = np.arange(n)
        central, right, left = central_and_sides(ctx.fn, ctx.inputs, i, elements, self.steps,
                                                 ctx.center, ctx.needs_grad)
        errors = InputErrors(i, self.shape, str(ctx.inputs[i].dtype), elements=n)
        failing = []  # (ratio, Entry, j, r, k)
        kinks = []
        for j, rows in enumerate(analytical_rows):
            if rows is None:
                continue
            a = rows[self.col]
            nu, R, L = central[j], right[j], left[j]
            kink_mask = self._kinks(j, a, nu, R, L, kinks)
            with np.errstate(all="ignore"):
                err = np.abs(a - nu)
                err = np.where(np.isnan(err), np.inf, err)  # a NaN gradient is infinitely wrong
                tol = tolerance(nu, ctx.atol, ctx.rtol)
                rel = np.where(np.abs(nu) > 0, err / np.abs(nu), np.where(err > 0, np.inf, 0.0))
            counted = ~kink_mask
            if counted.any():
                errors.max_abs_err = max(errors.max_abs_err, float(np.max(err[counted])))
                errors.max_rel_err = max(errors.max_rel_err, float(np.max(rel[counted])))
            errors.entries += a.size
            bad = ~(err <= tol) & counted
            for kink in kinks:
                if kink.output == j and kink.matches is None:
                    r = int(np.ravel_multi_index(kink.output_index, ctx.out_shapes[j])) if kink.output_index else 0
                    k = int(np.ravel_multi_index(kink.input_index, self.shape)) if kink.input_index else 0
                    bad[r, k] = True
            for r, k in zip(*np.nonzero(bad)):
                ratio = float(err[r, k] / tol[r, k]) if tol[r, k] > 0 else np.inf
                failing.append((ratio, j, int(r), int(k), float(a[r, k]), float(nu[r, k]),
                                float(err[r, k]), float(rel[r, k]), float(tol[r, k])))
        errors.failing = len(failing)
        errors.failing_elements = len({f[3] for f in failing})
        failing.sort(key=lambda f: -f[0] if np.isfinite(f[0]) else -np.inf)
        entries = [Entry(i, j, index_tuple(k, self.shape), index_tuple(r, ctx.out_shapes[j]),
                         a, nu, err, rel, tol)
                   for _, j, r, k, a, nu, err, rel, tol in failing[:MAX_LISTED]]
        self._diagnose(entries)
        return errors, entries, kinks

    def _kinks(self, j, a, nu, R, L, kinks):
        """Mask of entries of output j confirmed as kinks; appends Kink records."""
        ctx = self.ctx
        mask = np.zeros(a.shape, dtype=bool)
        candidates = dg.kink_candidates(R, L, ctx.atol, ctx.rtol)
        columns = np.nonzero(candidates.any(axis=0))[0]
        if not columns.size:
            return mask
        kink, L2, R2 = dg.confirm_kinks(ctx.fn, ctx.inputs, self.i, j, columns, self.steps[columns],
                                        ctx.center, candidates[:, columns], R[:, columns],
                                        L[:, columns], ctx.atol, ctx.rtol, ctx.needs_grad)
        for r, c in zip(*np.nonzero(kink)):
            k = int(columns[c])
            left, right = float(L2[r, c]), float(R2[r, c])
            matches = dg.kink_match(float(a[r, k]), left, right, ctx.atol, ctx.rtol)
            kinks.append(Kink(self.i, j, index_tuple(k, self.shape), index_tuple(r, ctx.out_shapes[j]),
                              float(self.x[k]), left, right, float(a[r, k]), matches))
            mask[r, k] = True
        return mask

    def _diagnose(self, entries):
        ctx = self.ctx
        ladders = {}
        for entry in entries:
            k = int(np.ravel_multi_index(entry.input_index, self.shape)) if self.shape else 0
            if k not in ladders:
                if len(ladders) >= MAX_DIAGNOSED:
                    continue
                ladders[k] = dg.ladder(ctx.fn, ctx.inputs, self.i, k, self.steps[k], ctx.center,
                                       ctx.needs_grad)
            steps, central, right, left = ladders[k]
            r = int(np.ravel_multi_index(entry.output_index, ctx.out_shapes[entry.output])) \
                if entry.output_index else 0
            j = entry.output
            entry.diagnosis = dg.diagnose(entry.analytical, steps, central[j][r], right[j][r],
                                          left[j][r], ctx.atol, ctx.rtol)


class _Context:
    """What every per-input check shares."""

    def __init__(self, fn, inputs, checked, eps, atol, rtol, needs_grad):
        self.fn, self.inputs, self.checked = fn, inputs, checked
        self.eps, self.atol, self.rtol, self.needs_grad = eps, atol, rtol, needs_grad
        self.center = evaluate(fn, inputs, needs_grad)
        self.out_shapes = None


def _fast_input_passes(ctx, outputs, vs, g, col, i, rng):
    """PyTorch's fast mode for one input: v^T J u, analytical against numerical."""
    x = snapshot(ctx.inputs[i])
    u = rng.standard_normal(x.size)
    u /= max(1.0, float(np.max(np.abs(u))) if u.size else 1.0)
    t = ctx.eps if ctx.eps is not None else directional_step(x)
    ju = directional(ctx.fn, ctx.inputs, i, u, t, ctx.needs_grad)
    numerical = sum(float(np.dot(to_numpy(v._data).reshape(-1), d))
                    for v, d in zip(vs, ju) if v is not None)
    analytical = float(np.dot(g[col].reshape(-1), u))
    return abs(analytical - numerical) <= tolerance(numerical, ctx.atol, ctx.rtol)


def gradcheck_report(fn, inputs, eps=None, atol=1e-5, rtol=1e-3, *, fast_mode=False, seed=0,
                     nondet_tol=0.0, side_checks=True, localize="auto", name=None,
                     _fn_differentiates=False):
    """Check `fn`'s backward against finite differences and return a `GradcheckReport`
    (`passed`, per-input errors, failing entries with diagnosis, kinks, the localised op,
    `message`, `to_dict()`). Arguments as `gradcheck`; never raises GradcheckError.

    localize: "auto" replays the ops of a failing composite `fn` one by one to name the
    first one whose backward is wrong; True always does; False never does.
    """
    fname = fn_name(fn, name)
    user_inputs = as_tuple(inputs)
    prepared, checked = prepare_inputs(user_inputs)
    report = GradcheckReport(fname, mode="fast mode (random projections)" if fast_mode else
                             "full Jacobian", step=step_description(eps), atol=atol, rtol=rtol)
    try:
        outputs = outputs_of(fn, prepared)
        ctx = _Context(fn, prepared, checked, eps, atol, rtol, _fn_differentiates)
        ctx.out_shapes = [tuple(o.shape) for o in outputs]
        rng = np.random.default_rng(seed)
        vs = _random_vs(outputs, rng)
        if side_checks:
            _side_checks(outputs, prepared, checked, vs, nondet_tol)
        to_check = list(enumerate(checked))
        if fast_mode:
            g = vjp(outputs, prepared, checked, vs)
            to_check = [(col, i) for col, i in to_check
                        if not _fast_input_passes(ctx, outputs, vs, g, col, i, rng)]
        if to_check:
            jac = analytical_jacobian(outputs, prepared, [checked[c] for c, _ in to_check])
        for n, (col, i) in enumerate(to_check):
            rows = [None if r is None else [r[n]] for r in jac]
            check = _InputCheck(ctx, 0, i)
            errors, entries, kinks = check.run(rows)
            report.inputs.append(errors)
            report.failures.extend(entries)
            report.kinks.extend(kinks)
    except CheckFailure as exc:
        report.problems.append(str(exc))
    report.max_abs_err = max((e.max_abs_err for e in report.inputs), default=0.0)
    report.max_rel_err = max((e.max_rel_err for e in report.inputs), default=0.0)
    report.passed = not report.failures and not report.problems
    if localize is True or (localize == "auto" and _backward_suspected(report)):
        from .localize import localize_wrong_op

        report.localized = localize_wrong_op(fn, user_inputs, eps=eps, atol=atol, rtol=rtol,
                                             seed=seed, only_if_composite=localize == "auto")
        if localize is True and report.localized is not None:
            report.passed = False
    return report


def _backward_suspected(report):
    """Whether a failure may be the backward's fault (not only a step too large/small)."""
    if report.passed or report.problems:
        return False
    return any(e.diagnosis is None or e.diagnosis.kind not in dg.CHECK_ERRORS
               for e in report.failures)


def gradcheck(fn, inputs, eps=None, atol=1e-5, rtol=1e-3, raise_exception=True, *,
              fast_mode=False, seed=0, nondet_tol=0.0, localize="auto", name=None,
              _fn_differentiates=False):
    """Check `fn`'s gradients against central finite differences, Jacobian entry by entry.

    Args:
        fn: takes the tensors in `inputs` and returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or tuple; the float64 ones with requires_grad=True are checked.
        eps: the finite-difference step; None (default) uses h = cbrt(eps64) * max(1, |x|),
            about 6.1e-6 for |x| <= 1 (see minigrad/gradcheck/jacobian.py).
        atol, rtol: |analytical - numerical| <= atol + rtol * |numerical| per entry.
        raise_exception: raise GradcheckError on failure (else return False).
        fast_mode: compare random projections v^T J u first (cheaper for large inputs); a
            failing input is re-checked entry by entry.
        localize: for a failing composite fn, name the first op whose backward is wrong
            ("auto"); True also runs it when the whole fn passes; False skips it.
    Returns:
        True when every Jacobian entry agrees (entries at kinks, whose one-sided slopes
        differ, are excluded with a GradcheckKinkWarning when the analytical value is a valid
        one-sided slope).

    >>> x = mg.randn(3, 4, dtype=mg.float64, requires_grad=True)
    >>> mg.gradcheck(lambda t: (t * t).tanh(), (x,))
    True
    """
    report = gradcheck_report(fn, inputs, eps, atol, rtol, fast_mode=fast_mode, seed=seed,
                              nondet_tol=nondet_tol, side_checks=raise_exception,
                              localize=localize, name=name, _fn_differentiates=_fn_differentiates)
    excluded = [k for k in report.kinks if k.matches]
    if excluded and report.passed:  # (a failure's message lists its kinks itself)
        warnings.warn(
            f"gradcheck: {report.function}: {len(excluded)} Jacobian entr"
            f"{'y' if len(excluded) == 1 else 'ies'} at non-differentiable points (kinks) "
            f"excluded from the check: " + "; ".join(k.describe() for k in excluded[:3]),
            GradcheckKinkWarning, stacklevel=2)
    if not report.passed:
        if raise_exception:
            raise GradcheckError(report.message)
        return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=None, atol=1e-5, rtol=1e-3,
                  raise_exception=True, *, seed=0, nondet_tol=0.0, fast_mode=False, name=None):
    """Check second derivatives: gradcheck of (inputs, v) -> grad(fn(inputs), inputs, v)."""
    inputs = as_tuple(inputs)
    fname = fn_name(fn, name)
    checked = [i for i, x in enumerate(inputs)
               if isinstance(x, Tensor) and x.requires_grad and x.dtype == np.float64]
    if not checked:
        raise ValueError("gradgradcheck: no input is a float64 Tensor with requires_grad=True")
    outputs = outputs_of(fn, inputs)
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        grad_outputs = [Tensor._make(o.device.xp.asarray(rng.standard_normal(o.shape)), o.device)
                        for o in outputs]
    grad_outputs = [g.detach().double().requires_grad_() for g in as_tuple(grad_outputs)]
    n_in = len(inputs)

    def first_derivative(*args):
        xs, vs = args[:n_in], args[n_in:]
        outs = outputs_of(fn, xs)
        pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        grads = grad([o for o, _ in pairs], [xs[i] for i in checked],
                     grad_outputs=[v for _, v in pairs], create_graph=True, allow_unused=True)
        return tuple(g if g is not None else xs[i] * 0 for i, g in zip(checked, grads))

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps, atol, rtol,
                     raise_exception, seed=seed, nondet_tol=nondet_tol, fast_mode=fast_mode,
                     localize=False, name=f"{fname} (2nd order)", _fn_differentiates=True)


def jacobians(fn, inputs, eps=None):
    """Full analytical and numerical Jacobians of fn's first output w.r.t. each checked
    input, as lists of (out.numel, in.numel) arrays: what `minigrad gradcheck --verbose`
    prints side by side."""
    inputs, checked = prepare_inputs(as_tuple(inputs))
    outputs = outputs_of(fn, inputs)
    analytical = analytical_jacobian(outputs[:1], inputs, checked)[0]
    center = evaluate(fn, inputs)
    numerical = []
    for i in checked:
        x = snapshot(inputs[i])
        central, _, _ = central_and_sides(fn, inputs, i, np.arange(x.size), default_steps(x, eps),
                                          center)
        numerical.append(central[0])
    return checked, analytical, numerical
