"""Issue 11 part 3 losses against PyTorch: L1Loss, SmoothL1Loss, HuberLoss, KLDivLoss,
cross_entropy(label_smoothing, ignore_index, weight) in every combination, and
BCEWithLogitsLoss(pos_weight); signatures, buffers and the deprecated size_average/reduce.
(The functions' gradchecks and per-op torch comparisons run from the registry:
minigrad/testing/nn_layer_opspecs.py; second order from the catalogue's second-order cases, in tests/test_gradcheck_ops.py.)
"""

import inspect
import itertools
import warnings

from contextlib import nullcontext

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F
from minigrad.testing.opspecs import SPECS_BY_NAME

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(12)
REDUCTIONS = ["mean", "sum", "none"]

def run_both(ours, theirs, arrays, extra=(), rtol=1e-10):
    """Forward + backward with a random grad_output through both; compares values and the
    gradients of every float array (the first len(arrays) arguments)."""
    mine = [mg.tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = ours(*mine, *[e[0] for e in extra])
        ty = theirs(*ref, *[e[1] for e in extra])
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=1e-13)
    v = RNG.standard_normal(y.shape)
    y.backward(mg.tensor(v))
    ty.backward(torch.tensor(v))
    for a, b in zip(mine, ref):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=1e-13)


# ---------------------------------------------------------------------------- regression losses


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("make", [
    lambda lib, r: lib.nn.L1Loss(reduction=r),
    lambda lib, r: lib.nn.SmoothL1Loss(reduction=r),
    lambda lib, r: lib.nn.SmoothL1Loss(reduction=r, beta=0.3),
    lambda lib, r: lib.nn.SmoothL1Loss(reduction=r, beta=0.0),
    lambda lib, r: lib.nn.HuberLoss(reduction=r),
    lambda lib, r: lib.nn.HuberLoss(reduction=r, delta=2.5),
    lambda lib, r: lib.nn.MSELoss(reduction=r),
], ids=["L1", "SmoothL1", "SmoothL1-beta0.3", "SmoothL1-beta0", "Huber", "Huber-delta2.5", "MSE"])
def test_regression_loss_modules_match_torch(make, reduction):
    ours, theirs = make(mg, reduction), make(torch, reduction)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    x, t = RNG.standard_normal((2, 3, 4)) * 2, RNG.standard_normal((2, 3, 4)) * 2
    run_both(ours, theirs, [x, t])


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_elementwise_weight_matches_torch(name, reduction):
    x, t, w = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)), RNG.uniform(0, 2, (4, 3))
    run_both(lambda a, b, w: getattr(F, name)(a, b, reduction=reduction, weight=w),
             lambda a, b, w: getattr(TF, name)(a, b, reduction=reduction, weight=w),
             [x, t], extra=[(mg.tensor(w), torch.tensor(w))])


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_module_matches_torch(reduction, log_target):
    ours = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    theirs = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)
    logits = RNG.standard_normal((3, 5))
    x = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    p = RNG.dirichlet(np.ones(5), size=3)
    p[0, 1] = 0.0  # a zero target probability contributes 0 (xlogy), as PyTorch
    t = np.log(p + 1e-3) if log_target else p
    run_both(ours, theirs, [x, t])


def test_kl_div_mean_warns_as_torch():
    x, t = mg.zeros(2, 3), mg.full((2, 3), 1 / 3)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(x, t, reduction="batchmean")


# ---------------------------------------------------------------------------- cross_entropy


CE_COMBOS = list(itertools.product(REDUCTIONS, [0.0, 0.1, 0.45], [False, True], [None, 2, -100]))


@pytest.mark.parametrize("reduction,smoothing,weighted,ignore", CE_COMBOS)
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3), (4,)], ids=["NC", "NCd", "C"])
def test_cross_entropy_all_options_match_torch(shape, reduction, smoothing, weighted, ignore):
    c = shape[1] if len(shape) > 1 else shape[0]
    target_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = RNG.integers(0, c, target_shape)
    if ignore is not None and t.ndim:
        t.reshape(-1)[::2] = ignore  # some targets ignored (and some of class 2 if ignore == 2)
    w = RNG.uniform(0.2, 2.0, c) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if ignore is not None:
        kw["ignore_index"] = ignore
    x = RNG.standard_normal(shape) * 3
    run_both(lambda a: F.cross_entropy(a, mg.tensor(t), weight=None if w is None else mg.tensor(w),
                                       **kw),
             lambda a: TF.cross_entropy(a, torch.tensor(t),
                                        weight=None if w is None else torch.tensor(w), **kw),
             [x], rtol=1e-9)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets_match_torch(smoothing, weighted, reduction):
    x = RNG.standard_normal((5, 4))
    p = RNG.dirichlet(np.ones(4), size=5)
    w = RNG.uniform(0.2, 2.0, 4) if weighted else None
    run_both(lambda a, b: F.cross_entropy(a, b, weight=None if w is None else mg.tensor(w),
                                          reduction=reduction, label_smoothing=smoothing),
             lambda a, b: TF.cross_entropy(a, b, weight=None if w is None else torch.tensor(w),
                                           reduction=reduction, label_smoothing=smoothing),
             [x, p])


def test_cross_entropy_module_options_and_state_dict_match_torch():
    w = np.array([1.0, 2.0, 0.5])
    ours = nn.CrossEntropyLoss(weight=mg.tensor(w), ignore_index=1, label_smoothing=0.2)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=1,
                                       label_smoothing=0.2)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert ours.label_smoothing == theirs.label_smoothing == 0.2
    x, t = RNG.standard_normal((7, 3)), np.array([0, 1, 2, 2, 1, 0, 0])
    run_both(lambda a: ours(a, mg.tensor(t)), lambda a: theirs(a, torch.tensor(t)), [x])


def test_cross_entropy_all_targets_ignored_is_nan_as_torch():
    x, t = RNG.standard_normal((3, 4)), np.full(3, -100)
    for smoothing in (0.0, 0.2):
        ours = F.cross_entropy(mg.tensor(x), mg.tensor(t), label_smoothing=smoothing)
        theirs = TF.cross_entropy(torch.tensor(x), torch.tensor(t), label_smoothing=smoothing)
        assert np.isnan(ours.item()) and np.isnan(theirs.item())


def test_cross_entropy_option_errors():
    x = mg.randn(3, 4)
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight should have shape \(4,\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]), weight=mg.ones(3), label_smoothing=0.1)
    with pytest.raises(IndexError, match="target 7 is out of bounds"):
        F.cross_entropy(x, mg.tensor([0, 7, 2]), label_smoothing=0.1)


# ---------------------------------------------------------------------------- BCE with logits


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_pos_weight_matches_torch(reduction, weighted):
    pw = np.array([0.5, 1.0, 3.0, 10.0])
    w = RNG.uniform(0.2, 2.0, 4) if weighted else None
    ours = nn.BCEWithLogitsLoss(weight=None if w is None else mg.tensor(w), reduction=reduction,
                                pos_weight=mg.tensor(pw))
    theirs = torch.nn.BCEWithLogitsLoss(weight=None if w is None else torch.tensor(w),
                                        reduction=reduction, pos_weight=torch.tensor(pw))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = RNG.standard_normal((5, 4)) * 4
    x[0, 0], x[1, 1] = 80.0, -80.0  # stays finite far out, as PyTorch
    y = RNG.uniform(0, 1, (5, 4))
    run_both(ours, theirs, [x, y])


def test_bce_with_logits_pos_weight_errors():
    x, y = mg.randn(2, 3), mg.rand(2, 3)
    with pytest.raises(ValueError, match=r"pos_weight shape \(4,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(x, y, pos_weight=mg.ones(4))
    with pytest.raises(RuntimeError, match="pos_weight is not differentiable"):
        F.binary_cross_entropy_with_logits(x, y, pos_weight=mg.ones(3, requires_grad=True))


# ---------------------------------------------------------------------------- signatures


FUNCTIONS = ["l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "cross_entropy", "nll_loss",
             "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"]
MODULES = ["L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CrossEntropyLoss", "NLLLoss",
           "MSELoss", "BCELoss", "BCEWithLogitsLoss"]


def _params(fn):
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functional_loss_signature_is_torch_s(name):
    assert _params(getattr(F, name)) == _params(getattr(TF, name))


@pytest.mark.parametrize("name", MODULES)
def test_loss_module_signature_is_torch_s(name):
    assert _params(getattr(nn, name)) == _params(getattr(torch.nn, name))


def test_deprecated_size_average_and_reduce_as_torch():
    x, t = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 2))
    for size_average, reduce in [(False, None), (None, False), (True, True), (False, True)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = nn.L1Loss(size_average, reduce)(mg.tensor(x), mg.tensor(t))
            theirs = torch.nn.L1Loss(size_average, reduce)(torch.tensor(x), torch.tensor(t))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        F.mse_loss(mg.tensor(x), mg.tensor(t), size_average=False)


def test_loss_shape_and_argument_errors():
    x = mg.randn(4, 3)
    # another target shape broadcasts as PyTorch (test_nn_loss_broadcast.py); one that doesn't
    # broadcast is an error naming both shapes
    for loss in (nn.L1Loss(), nn.SmoothL1Loss(), nn.HuberLoss(),
                 nn.KLDivLoss(reduction="batchmean")):
        with pytest.warns(UserWarning) if not isinstance(loss, nn.KLDivLoss) else nullcontext():
            with pytest.raises(RuntimeError, match=r"\(4, 2\).*\(4, 3\)"):
                loss(x, mg.randn(4, 2))
    with pytest.raises(ValueError, match="batchmean"):
        nn.L1Loss(reduction="batchmean")
    with pytest.raises(ValueError, match="delta must be a positive number"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match="beta must be a non-negative number"):
        F.smooth_l1_loss(x, x, beta=-1)


@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_mean_is_nan_with_zero_gradient_as_torch(loss, weighted):
    x, t = RNG.standard_normal((3, 4)), np.array([1, 1, 1])
    w = np.array([1.0, 2.0, 0.5, 1.0]) if weighted else None
    for smoothing in ((0.0, 0.3) if loss == "cross_entropy" else (0.0,)):
        extra = {"label_smoothing": smoothing} if loss == "cross_entropy" else {}
        ours = mg.tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        y = getattr(F, loss)(ours, mg.tensor(t), weight=None if w is None else mg.tensor(w),
                             ignore_index=1, **extra)
        ty = getattr(TF, loss)(theirs, torch.tensor(t),
                               weight=None if w is None else torch.tensor(w), ignore_index=1,
                               **extra)
        y.backward()
        ty.backward()
        assert np.isnan(y.item()) and np.isnan(ty.item())
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
