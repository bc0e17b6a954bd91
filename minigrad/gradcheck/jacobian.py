"""The two sides of the comparison, as true Jacobian entries.

Analytical: one backward per output element r with the one-hot grad-output e_r gives row r
of d output / d input for every input at once.

Numerical: for input element k, f(x + h e_k) and f(x - h e_k) give column k for every
output at once; with f(x) they also give the one-sided slopes used to spot kinks.

The default step is relative, h = cbrt(eps_float64) * max(1, |x_k|) ~ 6.1e-6 * max(1, |x|):
it balances the truncation error of a central difference (~h^2 f''') against its round-off
(~eps |f| / h), which is optimal near cbrt(eps) in the input's own scale. Dividing by the
step actually taken, (x + h) - (x - h), removes the representation error of x + h.
"""

import numpy as np

from ..autograd import grad, set_grad_enabled, strict_gradients
from ..tensor import Tensor
from ._common import CheckFailure, differentiable, outputs_of, snapshot, to_numpy

CBRT_EPS = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)


def default_steps(x, eps):
    """Per-element step for input array `x` (numpy): `eps` when given, else relative."""
    if eps is not None:
        return np.full(x.shape, float(eps))
    return CBRT_EPS * np.maximum(1.0, np.abs(x))


def directional_step(x):
    """The default step along a direction u with max|u| = 1: relative to the largest |x|."""
    return CBRT_EPS * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)


def step_description(eps):
    if eps is not None:
        return f"step h = {eps:g}"
    return f"step h = {CBRT_EPS:.3g} * max(1, |x|) (relative)"


def _gradients(output, inputs, checked, v):
    """v^T J for one output, as numpy arrays (None where the input is unused)."""
    try:
        # Strict: a backward returning the wrong dtype is reported, not silently cast.
        with strict_gradients():
            grads = grad(output, [inputs[i] for i in checked], grad_outputs=v, retain_graph=True,
                         allow_unused=True)
    except RuntimeError as exc:  # wrong shape, wrong number of gradients, ...
        raise CheckFailure(str(exc)) from None
    result = []
    for i, g in zip(checked, grads):
        if g is None:
            result.append(np.zeros(inputs[i].shape))
            continue
        if g.shape != inputs[i].shape or g.dtype != inputs[i].dtype:
            raise CheckFailure(
                f"gradient w.r.t. input {i} has shape {g.shape} and dtype {g.dtype}, but the "
                f"input has shape {inputs[i].shape} and dtype {inputs[i].dtype}"
            )
        result.append(to_numpy(g._data).astype(np.float64))
    return result


def vjp(outputs, inputs, checked, vs):
    """sum over outputs of v_j^T J_j, per checked input (numpy); vs[j] None skips output j."""
    total = [np.zeros(inputs[i].shape) for i in checked]
    for out, v in zip(outputs, vs):
        if v is None:
            continue
        for col, g in enumerate(_gradients(out, inputs, checked, v)):
            total[col] = total[col] + g
    return total


def analytical_jacobian(outputs, inputs, checked):
    """J[j][col]: an (out_j.numel, in.numel) array per differentiable output j (None for the
    others) and checked input; one backward per output element."""
    result = []
    for out in outputs:
        if not differentiable(out):
            result.append(None)
            continue
        m = out.numel()
        rows = [np.zeros((m, inputs[i].numel())) for i in checked]
        xp = out.device.xp
        for r in range(m):
            onehot = xp.zeros(m, dtype=out.dtype)
            onehot[r] = 1
            v = Tensor._make(onehot.reshape(out.shape), out.device)
            for col, g in enumerate(_gradients(out, inputs, checked, v)):
                rows[col][r] = g.reshape(-1)
        result.append(rows)
    return result


def evaluate(fn, inputs, needs_grad=False):
    """f(inputs) as flat float64 numpy arrays, one per output."""
    with set_grad_enabled(needs_grad):
        return [snapshot(o) for o in outputs_of(fn, inputs)]


def perturbed(fn, inputs, i, elements, steps, needs_grad=False):
    """For each flat element k of input i: f(x + h_k e_k) and f(x - h_k e_k).

    Returns (plus, minus, h_plus, h_minus): plus[j] is (len(elements), out_j.numel), and the
    steps actually taken ((x + h) - x and x - (x - h), after rounding)."""
    data = inputs[i]._data
    shape = data.shape
    plus, minus = [], []
    h_plus, h_minus = np.empty(len(elements)), np.empty(len(elements))
    for n, k in enumerate(elements):
        index = np.unravel_index(int(k), shape) if shape else ()
        original = data[index].item()
        up, down = original + float(steps[n]), original - float(steps[n])
        h_plus[n], h_minus[n] = up - original, original - down
        data[index] = up
        plus.append(evaluate(fn, inputs, needs_grad))
        data[index] = down
        minus.append(evaluate(fn, inputs, needs_grad))
        data[index] = original
    n_out = len(plus[0]) if plus else 0
    stack = lambda rows, j: np.stack([r[j] for r in rows]) if rows else np.zeros((0, 0))  # noqa: E731
    return ([stack(plus, j) for j in range(n_out)], [stack(minus, j) for j in range(n_out)],
            h_plus, h_minus)


def central_and_sides(fn, inputs, i, elements, steps, center, needs_grad=False):
    """Central differences and one-sided slopes of every output w.r.t. the given elements of
    input i: three lists (per output) of (out_j.numel, len(elements)) arrays."""
    plus, minus, hp, hm = perturbed(fn, inputs, i, elements, steps, needs_grad)
    central, right, left = [], [], []
    with np.errstate(all="ignore"):
        for j, c in enumerate(center):
            central.append(((plus[j] - minus[j]) / (hp + hm)[:, None]).T)
            right.append(((plus[j] - c[None, :]) / hp[:, None]).T)
            left.append(((c[None, :] - minus[j]) / hm[:, None]).T)
    return central, right, left


def directional(fn, inputs, i, u, t, needs_grad=False):
    """(f(x + t u) - f(x - t u)) / 2t for every output (flat numpy): J u for input i."""
    data = inputs[i]._data
    xp = inputs[i].device.xp
    original = data.copy()
    u_dev = xp.asarray(u.reshape(data.shape))
    data[...] = original + t * u_dev
    plus = evaluate(fn, inputs, needs_grad)
    data[...] = original - t * u_dev
    minus = evaluate(fn, inputs, needs_grad)
    data[...] = original
    return [(p - m) / (2 * t) for p, m in zip(plus, minus)]
