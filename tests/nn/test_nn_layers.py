"""Each layer's forward against a plain numpy computation, its gradients (float64
gradcheck), and PyTorch's default initialisation bounds."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.testing.opspecs import _np_conv2d, _np_pool

RNG = np.random.default_rng(0)


def t64(shape, requires_grad=False, low=None):
    a = RNG.standard_normal(shape) if low is None else RNG.uniform(low, 1.0, shape)
    return mg.tensor(a, dtype=mg.float64, requires_grad=requires_grad)


def params_to64(layer):
    return layer.double()


def test_linear_forward_and_grad():
    layer = params_to64(nn.Linear(4, 3))
    x = t64((5, 4), requires_grad=True)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), x.detach().numpy() @ w.T + b, rtol=1e-12)
    assert layer(t64((2, 6, 4))).shape == (2, 6, 3)
    assert mg.gradcheck(nn.functional.linear, (x, layer.weight, layer.bias))
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(3, 4\)"):
        layer(t64((5, 3)))


@pytest.mark.parametrize("kernel,stride,padding", [(3, 1, 0), ((2, 3), (2, 1), (1, 0)), (2, 2, 1)])
def test_conv2d_forward_and_grad(kernel, stride, padding):
    layer = params_to64(nn.Conv2d(2, 3, kernel, stride=stride, padding=padding))
    x = t64((2, 2, 5, 6), requires_grad=True)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    ref = _np_conv2d(x.detach().numpy(), layer.weight.detach().numpy(),
                     layer.bias.detach().numpy(), pair(stride), pair(padding))
    np.testing.assert_allclose(layer(x).detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    assert mg.gradcheck(lambda x, w, b: nn.functional.conv2d(x, w, b, stride, padding),
                        (x, layer.weight, layer.bias))


def test_pools_and_flatten():
    x = t64((2, 3, 6, 6), requires_grad=True)
    xn = x.detach().numpy()
    np.testing.assert_allclose(nn.MaxPool2d(2)(x).detach().numpy(),
                               _np_pool(xn, (2, 2), (2, 2), (0, 0), "max"))
    np.testing.assert_allclose(nn.AvgPool2d(3, stride=1)(x).detach().numpy(),
                               _np_pool(xn, (3, 3), (1, 1), (0, 0), "avg"), rtol=1e-12)
    assert mg.gradcheck(nn.AvgPool2d(2), (x,))
    assert nn.Flatten()(x).shape == (2, 108)
    assert nn.Flatten(0, 1)(x).shape == (6, 6, 6)
    assert nn.Identity(3, foo=1)(x) is x


def test_activations():
    x = t64((3, 4), requires_grad=True)
    xn = x.detach().numpy()
    cases = [
        (nn.ReLU(), np.maximum(xn, 0)),
        (nn.LeakyReLU(0.2), np.where(xn > 0, xn, 0.2 * xn)),
        (nn.Sigmoid(), 1 / (1 + np.exp(-xn))),
        (nn.Tanh(), np.tanh(xn)),
        (nn.Softmax(dim=1), np.exp(xn) / np.exp(xn).sum(1, keepdims=True)),
        (nn.LogSoftmax(dim=0), xn - np.log(np.exp(xn).sum(0, keepdims=True))),
    ]
    for layer, ref in cases:
        np.testing.assert_allclose(layer(x).detach().numpy(), ref, rtol=1e-12, err_msg=repr(layer))
        assert mg.gradcheck(layer, (x,))


@pytest.mark.parametrize("make,fan_in", [(lambda: nn.Linear(50, 40), 50),
                                         (lambda: nn.Conv2d(3, 16, (3, 5)), 45)])
def test_default_init_is_kaiming_uniform_a_sqrt5(make, fan_in):
    mg.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound
        assert np.abs(a).max() > 0.9 * bound  # fills the range
        assert abs(a.mean()) < 0.25 * bound
    w = layer.weight.detach().numpy()
    # variance of U(-b, b) is b^2 / 3
    assert abs(w.var() / (bound ** 2 / 3) - 1) < 0.15
    mg.manual_seed(0)
    np.testing.assert_array_equal(make().weight.detach().numpy(), w)


def test_init_functions():
    mg.manual_seed(1)
    w = mg.empty(200, 100)
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 300)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() / math.sqrt(2 / 100) - 1) < 0.05
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(w.numpy().std() / (2 * math.sqrt(2 / 300)) - 1) < 0.05
    nn.init.kaiming_uniform_(w, mode="fan_out")
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 200)
    nn.init.normal_(w, 3.0, 0.1)
    assert abs(w.numpy().mean() - 3) < 0.01
    nn.init.uniform_(w, -2, -1)
    assert w.numpy().min() >= -2 and w.numpy().max() <= -1
    nn.init.zeros_(w)
    assert not w.numpy().any()
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    assert nn.init.calculate_gain("tanh") == 5 / 3
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError):
        nn.init.xavier_uniform_(mg.empty(3))
    p = nn.Parameter(mg.zeros(3, 3))
    nn.init.uniform_(p)  # parameters are initialised outside the graph
    assert p.is_leaf and p.grad_fn is None


def test_dropout_reproducible_scaled_and_identity_in_eval():
    x = mg.ones(1000)
    layer = nn.Dropout(0.3)
    mg.manual_seed(7)
    a = layer(x).numpy()
    mg.manual_seed(7)
    b = layer(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert 0.22 < (a == 0).mean() < 0.38
    layer.eval()
    assert layer(x) is x
    assert not nn.functional.dropout(x, 1.0).numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    xg = mg.ones(20, dtype=mg.float64, requires_grad=True)
    mg.manual_seed(3)
    y = nn.functional.dropout(xg, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), y.detach().numpy())  # grad = mask * 2
