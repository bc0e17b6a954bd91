"""Kinks: entries at non-differentiable points are reported with their one-sided slopes and
excluded from pass/fail (with a warning), unless the analytical value matches neither slope
nor their mean."""

import warnings

import pytest

import minigrad as mg
from minigrad.gradcheck import GradcheckKinkWarning


def t64(values):
    return mg.tensor(values, dtype=mg.float64, requires_grad=True)


def test_relu_at_zero_is_a_kink_not_a_failure():
    x = t64([-1.0, 0.0, 2.0])
    with pytest.warns(GradcheckKinkWarning, match=r"d output 0\[1\] / d input 0\[1\] at x = 0: "
                                                  r"left slope 0, right slope 1; analytical 0 "
                                                  r"matches the left slope"):
        assert mg.gradcheck(lambda t: t.relu(), (x,)) is True
    report = mg.gradcheck_report(lambda t: t.relu(), (x,))
    assert report.passed
    (kink,) = report.kinks
    assert (kink.input_index, kink.output_index, kink.x) == ((1,), (1,), 0.0)
    assert kink.left == pytest.approx(0.0, abs=1e-9) and kink.right == pytest.approx(1.0)
    assert kink.matches == "left"
    assert "kink (excluded from pass/fail)" in report.message


def test_a_max_tie_is_a_kink_matching_the_mean():
    x = t64([1.0, 3.0, 3.0, -2.0])  # max() splits the gradient evenly between the tied 3s
    with pytest.warns(GradcheckKinkWarning):
        assert mg.gradcheck(lambda t: t.max(), (x,))
    report = mg.gradcheck_report(lambda t: t.max(), (x,))
    assert report.passed
    assert sorted(k.input_index for k in report.kinks) == [(1,), (2,)]
    for kink in report.kinks:
        assert (kink.left, kink.right, kink.analytical) == pytest.approx((0.0, 1.0, 0.5), abs=1e-7)
        assert kink.matches == "mean"


def test_maximum_tie_between_two_inputs():
    a, b = t64([0.5, 2.0]), t64([0.5, 1.0])
    with pytest.warns(GradcheckKinkWarning):
        assert mg.gradcheck(lambda p, q: mg.maximum(p, q), (a, b))
    report = mg.gradcheck_report(lambda p, q: mg.maximum(p, q), (a, b))
    assert {(k.input, k.input_index) for k in report.kinks} == {(0, (0,)), (1, (0,))}


def test_analytical_matching_neither_slope_nor_mean_still_fails():
    class AbsWrongAtZero(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.abs()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x.sign() + (x == 0).to(g.dtype) * 3)  # 3 at 0: no valid slope

    x = t64([-1.0, 0.0, 2.0])
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(AbsWrongAtZero.apply, (x,))
    message = str(info.value)
    assert "d output 0[1] / d input 0[1]" in message
    assert "kink (FAILS): d output 0[1] / d input 0[1] at x = 0: left slope -1, right slope 1; " \
           "analytical 3 matches neither slope nor their mean" in message
    assert "diagnosis: kink" in message
    report = mg.gradcheck_report(AbsWrongAtZero.apply, (x,))
    assert report.kinks[0].matches is None and report.diagnosis.kind == "kink"


def test_smooth_curvature_is_not_mistaken_for_a_kink():
    # x^2 at 0: one-sided slopes differ by 2h (beyond atol at h = 6e-6), but shrink with h.
    x = t64([0.0, 1e-3, -2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = mg.gradcheck_report(lambda t: t * t * 40.0, (x,))
    assert report.passed and report.kinks == []
