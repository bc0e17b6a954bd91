"""Diagnosis of each failing entry from a step ladder and one Richardson step: truncation
(the check's step is too large), round-off (too small), kink, or a wrong gradient."""

import pytest

import minigrad as mg


def t64(values):
    return mg.tensor(values, dtype=mg.float64, requires_grad=True)


class SignError(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * x.cos()  # planted sign error


def test_a_sign_error_is_a_wrong_gradient():
    report = mg.gradcheck_report(SignError.apply, (t64([0.3, -1.2, 2.0]),))
    assert not report.passed
    assert {e.diagnosis.kind for e in report.failures} == {"wrong gradient"}
    assert "flat in h" in report.diagnosis.explanation
    assert "diagnosis: wrong gradient" in report.message


def test_a_too_large_step_is_truncation():
    x = t64([0.5, -1.0, 2.0])
    report = mg.gradcheck_report(lambda t: t * t * t, (x,), eps=0.5)
    assert not report.passed  # (x+h)^3 - (x-h)^3 / 2h = 3x^2 + h^2: off by 0.25
    assert {e.diagnosis.kind for e in report.failures} == {"truncation"}
    d = report.diagnosis
    assert d.richardson == pytest.approx(3 * 2.0 ** 2, rel=1e-9) or d.richardson == pytest.approx(
        report.failures[0].analytical, rel=1e-9)
    assert "shrinks like h^2.0" in d.explanation and "the gradient is right" in d.explanation


def test_a_too_small_step_is_round_off():
    x = t64([0.7, 1.3, -0.4])
    report = mg.gradcheck_report(lambda t: (t * 50.0).sin(), (x,), eps=1e-13, rtol=1e-5)
    assert not report.passed
    assert report.diagnosis.kind == "round-off", report.message
    assert "grows like 1/h" in report.diagnosis.explanation


def test_a_wrong_gradient_with_a_large_step_is_still_wrong():
    report = mg.gradcheck_report(SignError.apply, (t64([0.3, 1.0]),), eps=0.05)
    assert report.diagnosis.kind == "wrong gradient"


def test_default_step_is_relative_to_the_input_scale():
    # At |x| = 1e4 an absolute step of 6e-6 would lose ~9 digits to cancellation in x^3.
    x = t64([1e4, -3e4])
    assert mg.gradcheck(lambda t: t * t * t, (x,), rtol=1e-6)
    assert "* max(1, |x|) (relative)" in mg.gradcheck_report(SignError.apply, (t64([0.3]),)).message
