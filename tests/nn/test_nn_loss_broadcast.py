"""Pointwise regression losses broadcast a target of another shape as PyTorch does: with
PyTorch's warning (kl_div without one), values and gradients equal torch's; shapes that don't
broadcast raise RuntimeError naming the op. The BCE losses keep refusing, as PyTorch."""

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F

BROADCASTING = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div"]


@pytest.mark.parametrize("name", BROADCASTING)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shapes", [((3, 1), (3,)), ((2, 3), (1, 3)), ((4,), (2, 1))])
def test_broadcast_target_matches_torch(name, reduction, shapes):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x_np, t_np = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    if name == "kl_div":
        t_np = np.abs(t_np)  # probabilities
    x = mg.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        y = getattr(F, name)(x, mg.tensor(t_np), reduction=reduction)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        yt = getattr(torch.nn.functional, name)(xt, torch.tensor(t_np), reduction=reduction)
    size_warning = lambda ws: [w for w in ws if "different to the input size" in str(w.message)]  # noqa: E731
    assert bool(size_warning(ours)) == bool(size_warning(theirs))
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BROADCASTING)
def test_broadcast_target_gradcheck(name):
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((3, 1)) + 0.1, requires_grad=True)
    t = mg.tensor(np.abs(rng.standard_normal((1, 4))) + 0.1, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mg.gradcheck(lambda a, b: getattr(F, name)(a, b, reduction="sum"), (x, t))


@pytest.mark.parametrize("name", BROADCASTING)
def test_shapes_that_do_not_broadcast_raise_naming_the_op(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match=rf"{name}: target shape \(4,\) does not broadcast "
                                               r"with input shape \(3,\)"):
            getattr(F, name)(mg.ones(3), mg.ones(4))


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_bce_losses_still_refuse_other_shapes(name):
    with pytest.raises(ValueError, match=name):
        getattr(F, name)(mg.full((3, 1), 0.5), mg.full((3,), 0.5))
