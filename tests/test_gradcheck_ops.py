"""Property tests: every differentiable op in the registry passes mg.gradcheck in float64.

Hypothesis draws a seed, a shape case of the spec (broadcast pairs, size-1 dims, 0-d) and a
memory layout for the leaf inputs: contiguous, permuted (Fortran-ordered data) or step-sliced
out of a larger buffer. A non-contiguous leaf must also give exactly the forward values and
gradients of its contiguous twin. The second-order cases of the catalogue also pass gradgradcheck.
"""

import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.opspecs import ALL_SPECS, SPECS_BY_NAME
from minigrad.testing.strategies import LAYOUTS, with_layout

DIFFERENTIABLE = [s for s in ALL_SPECS if s.differentiable]

# gradgradcheck: the second-order cases of the catalogue (by default the first case of every
# entry of order 2; see minigrad/testing/catalogue/entry.py).
SECOND_ORDER = [s.name for s in ALL_SPECS if s.second_order]


def single_threaded():
    """Gradchecks run thousands of tiny kernels; on a loaded 2-core machine OpenMP thread
    hand-offs dominate them (tens of ms each), so run the checks on one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def leaves(arrays, kind, device="cpu"):
    return tuple(mg.from_numpy(with_layout(np.asarray(a, dtype=np.float64), kind)).to(device)
                 .requires_grad_() for a in arrays)


def draw_inputs(spec, data):
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    shape_cases = spec.shape_cases(rng)
    case = shape_cases[data.draw(st.integers(0, len(shape_cases) - 1), label="case")]
    kind = data.draw(st.sampled_from(LAYOUTS if spec.noncontiguous else ("contiguous",)), label="layout")
    return spec.sample(rng, case), kind, seed


def test_registry_has_the_second_order_subset():
    missing = [n for n in SECOND_ORDER if n not in SPECS_BY_NAME]
    assert not missing
    assert all(SPECS_BY_NAME[n].differentiable for n in SECOND_ORDER)


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=lambda s: s.name)
@given(data=st.data())
def test_gradcheck(spec, data, device):
    arrays, kind, seed = draw_inputs(spec, data)
    inputs = leaves(arrays, kind, device)
    with single_threaded():
        assert mg.gradcheck(spec.fn, inputs, seed=seed % 1000, name=spec.name)


@pytest.mark.parametrize("spec", [s for s in DIFFERENTIABLE if s.noncontiguous], ids=lambda s: s.name)
@given(data=st.data())
def test_noncontiguous_leaf_matches_contiguous(spec, data):
    """Forward values and gradients do not depend on how the leaf is laid out in memory."""
    arrays, _, seed = draw_inputs(spec, data)
    kind = data.draw(st.sampled_from(["permuted", "strided"]), label="layout")
    results = []
    for k in ("contiguous", kind):
        inputs = leaves(arrays, k)
        for x, a in zip(inputs, arrays):
            assert x.shape == a.shape
        out = spec.fn(*inputs)
        v = np.random.default_rng(seed).standard_normal(out.shape)
        out.backward(mg.from_numpy(v))
        results.append((out.detach().numpy().copy(),
                        [np.zeros(x.shape) if x.grad is None else x.grad.numpy() for x in inputs]))
    (out0, grads0), (out1, grads1) = results
    np.testing.assert_allclose(out1, out0, rtol=1e-12, atol=1e-12)
    for g0, g1 in zip(grads0, grads1):
        assert g1.shape == g0.shape
        np.testing.assert_allclose(g1, g0, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SECOND_ORDER)
@given(data=st.data())
def test_gradgradcheck(name, data):
    spec = SPECS_BY_NAME[name]
    arrays, kind, seed = draw_inputs(spec, data)
    inputs = leaves(arrays, kind)
    with single_threaded():
        assert mg.gradgradcheck(spec.fn, inputs, seed=seed % 1000, name=spec.name)


def test_gradcheck_detects_a_wrong_gradient():
    """The harness can fail: a Function with a deliberately wrong backward is caught."""

    class BadSquare(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x * grad

    x = mg.from_numpy(np.linspace(0.5, 2.0, 6).reshape(2, 3)).requires_grad_()
    with pytest.raises(mg.GradcheckError, match=r"input 0"):
        mg.gradcheck(BadSquare.apply, (x,))


def test_view_ops_are_checked_against_real_finite_differences():
    """A view op's output aliases its input; gradcheck must still see the perturbation
    (regression: numerical gradients of reshape/transpose came out as 0)."""

    class BadTranspose(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.transpose(0, 1)

        @staticmethod
        def backward(ctx, grad):
            return grad.transpose(0, 1) * 2

    x = mg.from_numpy(np.arange(6.0).reshape(2, 3)).requires_grad_()
    assert mg.gradcheck(lambda t: t.transpose(0, 1), (x,))
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(BadTranspose.apply, (x,))
