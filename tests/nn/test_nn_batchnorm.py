"""BatchNorm1d/2d: batch statistics in training, running statistics in eval, buffers exactly
as PyTorch's (unbiased running var, num_batches_tracked, momentum=None)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def np_bn_train(x, w, b, eps=1e-5):
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(dims, keepdims=True), x.var(dims, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, (4, 3, 5)),
                                       (nn.BatchNorm2d, (4, 3, 2, 5))])
def test_batchnorm_numpy_train_eval_and_buffers(cls, shape):
    rng = np.random.default_rng(0)
    bn = cls(3).double()
    with mg.no_grad():
        bn.weight.copy_(rng.uniform(0.5, 2, 3))
        bn.bias.copy_(rng.standard_normal(3))
    xs = [rng.standard_normal(shape) * 2 + 1 for _ in range(3)]
    dims = (0,) + tuple(range(2, len(shape)))
    rm, rv = np.zeros(3), np.ones(3)
    w, b = bn.weight.detach().numpy(), bn.bias.detach().numpy()
    for x in xs:
        y = bn(mg.tensor(x))
        np.testing.assert_allclose(y.detach().numpy(), np_bn_train(x, w, b), rtol=1e-10, atol=1e-12)
        n = x.size // 3
        rm = 0.9 * rm + 0.1 * x.mean(dims)
        rv = 0.9 * rv + 0.1 * x.var(dims) * n / (n - 1)
    np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    shape_c = (1, -1) + (1,) * (len(shape) - 2)
    x = xs[0]
    ref = (x - rm.reshape(shape_c)) / np.sqrt(rv.reshape(shape_c) + 1e-5) * w.reshape(shape_c) \
        + b.reshape(shape_c)
    np.testing.assert_allclose(bn(mg.tensor(x)).detach().numpy(), ref, rtol=1e-10)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_gradcheck_train_and_eval():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm2d(2).double()
    x = mg.tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    assert mg.gradcheck(lambda x, w, b: nn.functional.batch_norm(x, None, None, w, b, True),
                        (x, bn.weight, bn.bias))
    rm, rv = mg.tensor(rng.standard_normal(2)), mg.tensor(rng.uniform(0.5, 2, 2))
    assert mg.gradcheck(lambda x, w, b: nn.functional.batch_norm(x, rm, rv, w, b, False),
                        (x, bn.weight, bn.bias))


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(mg.randn(1, 3))
    with pytest.raises(ValueError, match="4-D"):
        nn.BatchNorm2d(3)(mg.randn(2, 3))
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm1d(3)(mg.randn(2, 4))


@pytest.mark.parametrize("momentum,affine,track", [(0.1, True, True), (None, True, True),
                                                   (0.3, False, True), (0.1, True, False)])
def test_batchnorm_matches_torch(momentum, affine, track):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    ours = nn.BatchNorm2d(3, momentum=momentum, affine=affine, track_running_stats=track).double()
    ref = torch.nn.BatchNorm2d(3, momentum=momentum, affine=affine,
                               track_running_stats=track).double()
    assert list(ours.state_dict()) == list(ref.state_dict())
    if affine:
        ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    for step in range(4):
        if step == 3:
            ours.eval(), ref.eval()
        x = rng.standard_normal((4, 3, 3, 2)) * 3 - 1
        xo = mg.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), ref(xt)
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(yo.shape)
        yo.backward(mg.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        if affine:
            np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-9)
            ours.zero_grad(), ref.zero_grad()
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-12, err_msg=k)
