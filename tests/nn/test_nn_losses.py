"""Losses: values against numpy for every reduction, stability at huge logits, errors that
name the offending values/shapes, and agreement with PyTorch (including class weights and
ignore_index)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F

RNG = np.random.default_rng(0)


def log_softmax(x):
    z = x - x.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_and_nll_against_numpy(reduction):
    x = RNG.standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    losses = -log_softmax(x)[np.arange(5), t]
    ref = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    out = nn.CrossEntropyLoss(reduction=reduction)(mg.tensor(x), mg.tensor(t))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    out = nn.NLLLoss(reduction=reduction)(mg.tensor(log_softmax(x)), mg.tensor(t))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = mg.tensor(RNG.standard_normal((3, 5)), requires_grad=True)
    t = mg.tensor([4, 0, 2])
    F.cross_entropy(x, t).backward()
    p = np.exp(log_softmax(x.detach().numpy()))
    p[np.arange(3), t.numpy()] -= 1
    np.testing.assert_allclose(x.grad.numpy(), p / 3, rtol=1e-12)
    assert mg.gradgradcheck(lambda x: F.cross_entropy(x, t, reduction="sum"), (x,))


def test_cross_entropy_stable_at_huge_logits():
    for dtype in (mg.float32, mg.float64):
        x = mg.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype,
                      requires_grad=True)
        t = mg.tensor([1, 2, 0])
        loss = F.cross_entropy(x, t)
        loss.backward()
        assert np.isfinite(loss.item())
        np.testing.assert_allclose(loss.item(), (2e4 + 0 + np.log(2)) / 3, rtol=1e-6)
        assert np.isfinite(x.grad.numpy()).all()
        np.testing.assert_allclose(x.grad.numpy()[0], [1 / 3, -1 / 3, 0], atol=1e-6)


def test_cross_entropy_rejects_bad_targets():
    x = mg.randn(3, 4)
    with pytest.raises(IndexError, match=r"target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, mg.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match=r"target -1 .*4 classes"):
        F.cross_entropy(x, mg.tensor([0, -1, 1]))
    with pytest.raises(IndexError, match=r"target 7 .*4 classes"):
        F.nll_loss(x, mg.tensor([7, 0, 1]))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        F.cross_entropy(x, mg.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(x, mg.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")


def test_pointwise_losses_against_numpy_and_shape_errors():
    x = RNG.uniform(0.05, 0.95, (4, 3))
    y = RNG.uniform(0, 1, (4, 3))
    z = RNG.standard_normal((4, 3)) * 5
    np.testing.assert_allclose(nn.MSELoss(reduction="sum")(mg.tensor(x), mg.tensor(y)).numpy(),
                               ((x - y) ** 2).sum(), rtol=1e-12)
    bce = -(y * np.log(x) + (1 - y) * np.log(1 - x))
    np.testing.assert_allclose(nn.BCELoss(reduction="none")(mg.tensor(x), mg.tensor(y)).numpy(),
                               bce, rtol=1e-12)
    s = 1 / (1 + np.exp(-z))
    ref = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    np.testing.assert_allclose(nn.BCEWithLogitsLoss()(mg.tensor(z), mg.tensor(y)).numpy(),
                               ref.mean(), rtol=1e-10)
    for loss in (nn.BCELoss(), nn.BCEWithLogitsLoss()):
        with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 1\)"):
            loss(mg.tensor(x), mg.tensor(y[:, :1]))
    # MSE broadcasts another target shape, with PyTorch's warning (test_nn_loss_broadcast.py)
    with pytest.warns(UserWarning, match=r"target size \(\(4, 1\)\).*input size \(\(4, 3\)\)"):
        nn.MSELoss()(mg.tensor(x), mg.tensor(y[:, :1]))


def test_binary_losses_extremes():
    # BCE clamps log at -100 as PyTorch; BCE-with-logits stays finite at huge logits.
    loss = F.binary_cross_entropy(mg.tensor([0.0, 1.0]), mg.tensor([1.0, 0.0]), reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [100.0, 100.0])
    x = mg.tensor([1e4, -1e4, 0.0], dtype=mg.float64, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, mg.tensor([0.0, 1.0, 1.0], dtype=mg.float64),
                                              reduction="sum")
    loss.backward()
    np.testing.assert_allclose(loss.item(), 2e4 + np.log(2))
    np.testing.assert_allclose(x.grad.numpy(), [1, -1, -0.5])
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(mg.tensor([1.5]), mg.tensor([1.0]))


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"ignore_index": 2},
                                    {"weight": [0.5, 2.0, 1.0, 3.0]},
                                    {"weight": [0.5, 2.0, 1.0, 3.0], "ignore_index": 1,
                                     "reduction": "none"}])
def test_class_losses_match_torch(kwargs):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((6, 4))
    t = np.array([0, 1, 2, 3, 2, 1])
    tkw = dict(kwargs)
    if "weight" in kwargs:
        tkw["weight"] = torch.tensor(kwargs["weight"], dtype=torch.float64)
    for ours, theirs, inp in [(F.cross_entropy, torch.nn.functional.cross_entropy, x),
                              (F.nll_loss, torch.nn.functional.nll_loss, log_softmax(x))]:
        xo = mg.tensor(inp, requires_grad=True)
        xt = torch.tensor(inp, requires_grad=True)
        yo = ours(xo, mg.tensor(t), **kwargs)
        yt = theirs(xt, torch.tensor(t), **tkw)
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
        g = RNG.standard_normal(yo.shape)
        yo.backward(mg.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_spatial_and_probability_targets_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 2, 2))
    t = RNG.integers(0, 3, (2, 2, 2))
    np.testing.assert_allclose(
        F.cross_entropy(mg.tensor(x), mg.tensor(t), reduction="none").numpy(),
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none"),
        rtol=1e-12)
    p = np.exp(log_softmax(RNG.standard_normal((4, 3))))
    x = RNG.standard_normal((4, 3))
    np.testing.assert_allclose(F.cross_entropy(mg.tensor(x), mg.tensor(p)).numpy(),
                               torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p)),
                               rtol=1e-12)


def test_nn_specs_forward_reference_and_gradcheck():
    from minigrad.testing.nn_opspecs import NN_SPECS

    rng = np.random.default_rng(3)
    names = {s.name for s in NN_SPECS}
    for required in ("linear", "cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy",
                     "binary_cross_entropy_with_logits", "softmax", "log_softmax"):
        assert "nn.functional." + required in names
    for spec in NN_SPECS:
        for case in spec.shape_cases(rng):
            arrays = spec.sample(rng, case)
            inputs = tuple(mg.tensor(a, requires_grad=True) for a in arrays)
            out = spec.fn(*inputs)
            np.testing.assert_allclose(out.detach().numpy(), spec.reference(*arrays), rtol=1e-10,
                                       atol=1e-12, err_msg=f"{spec.name} {case}")
            assert mg.gradcheck(spec.fn, inputs, name=spec.name)


@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 6), c=st.integers(1, 6), scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3]),
       seed=st.integers(0, 2**16), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_property_vs_logsumexp(n, c, scale, seed, reduction):
    """Value = logsumexp - picked logit for any shape and logit scale; grad rows sum to 0."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)) * scale
    t = rng.integers(0, c, n)
    xt = mg.tensor(x, requires_grad=True)
    out = F.cross_entropy(xt, mg.tensor(t), reduction=reduction)
    m = x.max(1)
    losses = m + np.log(np.exp(x - m[:, None]).sum(1)) - x[np.arange(n), t]
    ref = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy().sum(1), 0, atol=1e-12)
    assert np.all(np.isfinite(xt.grad.numpy()))
