"""mg.testing: hypothesis strategies (broadcast shapes, size-1 dims, non-contiguous layouts,
values away from kinks) and the one-line helper that gradchecks a user's Function."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import strategies


def sum_to(g, shape):
    """Sum a broadcast gradient back to `shape` (what a correct backward must do)."""
    while g.ndim > len(shape):
        g = g.sum(dim=0)
    for d, n in enumerate(shape):
        if n == 1 and g.shape[d] != 1:
            g = g.sum(dim=d, keepdim=True)
    return g


class ScaledProduct(mg.Function):
    """a * b * 3 with broadcasting, written as a user would."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b * 3

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return sum_to(g * b * 3, a.shape), sum_to(g * a * 3, b.shape)


class ForgetsToReduce(ScaledProduct):
    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b * 3, g * a * 3  # wrong shape as soon as the inputs broadcast


class AbsWithWrongSign(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.abs()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0).to(g.dtype)


def test_one_line_helper_passes_a_correct_function():
    assert mg.testing.gradcheck_function(ScaledProduct.apply, n_inputs=2, max_examples=15) == 15


def test_one_line_helper_catches_a_missing_broadcast_reduction():
    with pytest.raises(mg.GradcheckError, match="shape"):
        mg.testing.gradcheck_function(ForgetsToReduce.apply, n_inputs=2, max_examples=30)


def test_one_line_helper_catches_a_wrong_backward_away_from_the_kink():
    with pytest.raises(mg.GradcheckError, match="wrong gradient"):
        mg.testing.gradcheck_function(AbsWithWrongSign.apply, avoid=(0.0,), max_examples=20)


def test_inputs_cover_layouts_size1_and_broadcasting():
    seen = {"layouts": set(), "size1": False, "broadcast": False, "zero_d": False}

    @settings(max_examples=150, deadline=None, database=None)
    @given(inputs=strategies.gradcheck_inputs(2, avoid=(0.0,), gap=0.2))
    def draw(inputs):
        a, b = inputs
        for t in inputs:
            assert t.dtype == mg.float64 and t.requires_grad and t.is_leaf
            values = t.detach().numpy()
            assert np.all(np.abs(values) >= 0.2 - 1e-12) and np.all(np.abs(values) <= 2.0 + 0.3)
            seen["size1"] |= 1 in t.shape
            seen["zero_d"] |= t.ndim == 0
            if t.ndim >= 2 and t.shape[-1] > 1 and t.shape[-2] > 1:
                seen["layouts"].add("C" if values.flags.c_contiguous else
                                    "F" if values.flags.f_contiguous else "strided")
        np.broadcast_shapes(a.shape, b.shape)  # always compatible
        seen["broadcast"] |= a.shape != b.shape

    draw()
    assert seen["size1"] and seen["broadcast"] and seen["zero_d"], seen
    assert seen["layouts"] == {"C", "F", "strided"}, seen


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30))
def test_distinct_values_have_no_ties(seed, n):
    x = strategies.well_conditioned(np.random.default_rng(seed), (n,), distinct=True, gap=0.05)
    gaps = np.diff(np.sort(x))
    assert np.all(gaps >= 0.05 - 1e-12) and x.min() >= -2.0 and x.max() <= 2.0 + 1e-12


def test_with_layout_keeps_values():
    a = np.arange(12.0).reshape(3, 4)
    for kind in strategies.LAYOUTS:
        np.testing.assert_array_equal(strategies.with_layout(a, kind), a)
    assert not strategies.with_layout(a, "strided").flags.c_contiguous
    assert strategies.with_layout(np.array(2.0), "strided").shape == ()
