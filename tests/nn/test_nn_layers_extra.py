"""Issue 11 part 3 layers against PyTorch: GELU/SiLU/ELU/Softplus/LogSigmoid, LayerNorm,
Embedding, Dropout2d, ModuleDict, ParameterList, Unflatten, AdaptiveAvgPool2d, one_hot and
in-place relu. Modules: parameter names, shapes, state_dict keys, init, forward and gradients
with the same weights. (The functions' gradchecks and per-op torch comparisons run from the
registry: minigrad/testing/nn_layer_opspecs.py; second order from the catalogue's second-order cases, in tests/test_gradcheck_ops.py.)
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F
from minigrad.testing.opspecs import SPECS_BY_NAME

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)

def both(shape, low=-3.0, high=3.0):
    a = RNG.uniform(low, high, shape)
    return (mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))


def assert_same_forward_backward(ours_fn, torch_fn, shape, rtol=1e-10, **kw):
    x, tx = both(shape, **kw)
    y, ty = ours_fn(x), torch_fn(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=1e-12)
    v = RNG.standard_normal(y.shape)
    y.backward(mg.tensor(v))
    ty.backward(torch.tensor(v))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("ours,theirs", [
    (nn.GELU(), torch.nn.GELU()),
    (nn.GELU("tanh"), torch.nn.GELU("tanh")),
    (nn.SiLU(), torch.nn.SiLU()),
    (nn.ELU(), torch.nn.ELU()),
    (nn.ELU(alpha=0.5), torch.nn.ELU(alpha=0.5)),
    (nn.Softplus(), torch.nn.Softplus()),
    (nn.Softplus(beta=3, threshold=4), torch.nn.Softplus(beta=3, threshold=4)),
    (nn.LogSigmoid(), torch.nn.LogSigmoid()),
], ids=lambda m: repr(m))
def test_activation_modules_match_torch(ours, theirs):
    assert_same_forward_backward(ours, theirs, (4, 5), low=-6, high=6)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == []


def test_activations_are_stable_at_extreme_inputs():
    a = np.array([-1e4, -50.0, -20.5, 0.0, 20.5, 50.0, 1e4])
    x = mg.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    for ours, theirs in [(F.softplus, torch.nn.functional.softplus),
                         (F.logsigmoid, torch.nn.functional.logsigmoid),
                         (F.silu, torch.nn.functional.silu), (F.gelu, torch.nn.functional.gelu),
                         (F.elu, torch.nn.functional.elu)]:
        y, ty = ours(x), theirs(tx)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        g, = mg.grad(y.sum(), [x])
        tg, = torch.autograd.grad(ty.sum(), [tx])
        assert np.all(np.isfinite(g.numpy()))
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12, atol=1e-300)


def test_float32_activations_keep_dtype():
    x = mg.randn(3, 4)
    for f in (F.gelu, F.silu, F.elu, F.softplus, F.logsigmoid):
        assert f(x).dtype == mg.float32
    assert F.gelu(x, approximate="tanh").dtype == mg.float32


def test_activation_argument_errors():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(mg.randn(2), approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")
    with pytest.raises(TypeError, match="elu: alpha"):
        F.elu(mg.randn(2), alpha="1")
    with pytest.raises(TypeError, match="softplus: input must be floating"):
        F.softplus(mg.arange(3))
    with pytest.raises(TypeError, match="gelu: input must be a Tensor"):
        F.gelu(np.ones(3))


# ---------------------------------------------------------------------------- in-place


@pytest.mark.parametrize("name,kwargs", [("relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
                                         ("elu", {}), ("silu", {})])
def test_inplace_activation_writes_input_and_bumps_version(name, kwargs):
    a = RNG.standard_normal((3, 4))
    x = mg.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    h, th = x * 2, tx * 2
    version = h._version
    out = getattr(F, name)(h, inplace=True, **kwargs)
    tout = getattr(torch.nn.functional, name)(th, inplace=True, **kwargs)
    assert out is h and tout is th
    assert h._version == version + 1
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=1e-12)
    (h * h).sum().backward()
    (th * th).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_inplace_relu_on_a_tensor_saved_for_backward_raises_like_torch():
    x = mg.tensor(RNG.standard_normal(5), requires_grad=True)
    y = x.exp()  # exp saves its output for backward
    F.relu(y, inplace=True)
    with pytest.raises(RuntimeError):
        y.sum().backward()
    tx = torch.tensor(RNG.standard_normal(5), requires_grad=True)
    ty = tx.exp()
    torch.nn.functional.relu(ty, inplace=True)
    with pytest.raises(RuntimeError):
        ty.sum().backward()


def test_inplace_relu_on_a_leaf_that_requires_grad_raises():
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu(x, inplace=True)
    plain = mg.tensor([-1.0, 2.0])
    assert nn.ReLU(inplace=True)(plain) is plain
    assert plain.tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))


# ---------------------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 4, 5), (4, 5)),
                                              ((3, 7), [7])])
def test_layer_norm_module_matches_torch(shape, normalized):
    ours = nn.LayerNorm(normalized)
    theirs = torch.nn.LayerNorm(normalized)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.normalized_shape == theirs.normalized_shape
    assert repr(ours) == repr(theirs)
    np.testing.assert_array_equal(ours.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(ours.bias.detach().numpy(), 0)
    w = RNG.uniform(0.5, 1.5, ours.weight.shape)
    b = RNG.standard_normal(ours.bias.shape)
    ours.double().load_state_dict({"weight": w, "bias": b})
    with torch.no_grad():
        theirs.double().weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    x, tx = both(shape)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = RNG.standard_normal(y.shape)
    y.backward(mg.tensor(v))
    ty.backward(torch.tensor(v))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-9)


def test_layer_norm_options_and_errors():
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    no_bias = nn.LayerNorm(4, bias=False)
    assert list(no_bias.state_dict()) == list(torch.nn.LayerNorm(4, bias=False).state_dict())
    assert no_bias(mg.randn(2, 4)).shape == (2, 4)
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[5\].*\[2, 4\]"):
        nn.LayerNorm(5)(mg.randn(2, 4))
    with pytest.raises(RuntimeError, match="weight must be a Tensor of shape"):
        F.layer_norm(mg.randn(2, 4), (4,), mg.ones(3))
    assert F.layer_norm(mg.randn(2, 4), 4).dtype == mg.float32


# ---------------------------------------------------------------------------- Embedding


def test_embedding_module_matches_torch():
    mg.manual_seed(0)
    ours = nn.Embedding(10, 4, padding_idx=3)
    theirs = torch.nn.Embedding(10, 4, padding_idx=3)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert repr(ours) == repr(theirs)
    np.testing.assert_array_equal(ours.weight.detach().numpy()[3], 0)
    w = RNG.standard_normal((10, 4))
    ours.double().load_state_dict({"weight": w})
    theirs.double().load_state_dict({"weight": torch.tensor(w)})
    idx = np.array([[1, 3, 3, 9], [0, 1, 1, 1]])
    y, ty = ours(mg.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    v = RNG.standard_normal(y.shape)
    y.backward(mg.tensor(v))
    ty.backward(torch.tensor(v))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    assert not ours.weight.grad.numpy()[3].any()


def test_embedding_init_is_standard_normal():
    mg.manual_seed(1)
    w = nn.Embedding(2000, 50).weight.detach().numpy()
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


@pytest.mark.parametrize("kwargs", [{"scale_grad_by_freq": True},
                                    {"scale_grad_by_freq": True, "padding_idx": 1},
                                    {"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0}])
def test_functional_embedding_options_match_torch(kwargs):
    w = RNG.standard_normal((6, 3))
    ours, theirs = mg.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    idx = np.array([[0, 1, 1], [5, 1, 0]])
    with torch.no_grad():
        pass
    y = F.embedding(mg.tensor(idx), ours, **kwargs)
    ty = torch.nn.functional.embedding(torch.tensor(idx), theirs, **kwargs)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    if "max_norm" in kwargs:  # rows renormalised in place, as PyTorch
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6)
    v = RNG.standard_normal(y.shape)
    y.backward(mg.tensor(v))
    ty.backward(torch.tensor(v))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_embedding_errors_and_from_pretrained():
    emb = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
        emb(mg.tensor([0, 4]))
    with pytest.raises(TypeError, match="integer"):
        emb(mg.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="sparse"):
        F.embedding(mg.tensor([0]), emb.weight, sparse=True)
    pre = nn.Embedding.from_pretrained(mg.ones(3, 2))
    assert not pre.weight.requires_grad and pre(mg.tensor([2])).tolist() == [[1.0, 1.0]]


# ---------------------------------------------------------------------------- one_hot


@pytest.mark.parametrize("values,num_classes", [([0, 2, 1], -1), ([[1, 0], [3, 3]], 5),
                                                ([], 3), ([4], -1)])
def test_one_hot_matches_torch(values, num_classes):
    ours = F.one_hot(mg.tensor(values, dtype=mg.int64), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(values, dtype=torch.int64), num_classes)
    assert ours.dtype == mg.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(mg.tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(mg.tensor([-1]))
    with pytest.raises(RuntimeError, match="empty"):
        F.one_hot(mg.tensor([], dtype=mg.int64))
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(mg.tensor([1.0]))


# ---------------------------------------------------------------------------- pooling, shapes


@pytest.mark.parametrize("shape,out", [((2, 3, 7, 5), (1, 1)), ((2, 3, 7, 5), 1),
                                       ((2, 3, 7, 5), (3, 2)), ((3, 6, 6), 4),
                                       ((1, 2, 5, 9), (None, 4)), ((1, 1, 3, 3), (5, 5))])
def test_adaptive_avg_pool2d_matches_torch(shape, out):
    ours, theirs = nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out)
    assert repr(ours) == repr(theirs)
    assert_same_forward_backward(ours, theirs, shape, rtol=1e-12)


def test_adaptive_avg_pool2d_errors():
    with pytest.raises(ValueError, match="3-D or 4-D"):
        F.adaptive_avg_pool2d(mg.randn(3, 4), 1)
    with pytest.raises(ValueError, match="positive"):
        F.adaptive_avg_pool2d(mg.randn(1, 3, 4), 0)


def test_unflatten_matches_torch():
    x = mg.randn(2, 12, 3)
    for dim, sizes in [(1, (3, 4)), (-2, (2, -1, 3)), (0, [2])]:
        ours = nn.Unflatten(dim, sizes)
        theirs = torch.nn.Unflatten(dim, sizes)
        assert ours(x).shape == tuple(theirs(torch.tensor(x.numpy())).shape)
        assert repr(ours) == repr(theirs).replace("[2]", "(2,)")
    with pytest.raises(RuntimeError, match="Unflatten"):
        nn.Unflatten(1, (5, 2))(x)


# ---------------------------------------------------------------------------- Dropout2d


def test_dropout2d_drops_whole_channels_reproducibly():
    x = mg.ones(8, 16, 3, 3, requires_grad=True)
    layer = nn.Dropout2d(0.25)
    mg.manual_seed(3)
    y = layer(x)
    mg.manual_seed(3)
    np.testing.assert_array_equal(layer(x).detach().numpy(), y.detach().numpy())
    planes = y.detach().numpy().reshape(8, 16, 9)
    assert np.all((planes == 0).all(-1) | (planes == 1 / 0.75).all(-1))
    dropped = (planes == 0).all(-1).mean()
    assert 0.1 < dropped < 0.4
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == repr(torch.nn.Dropout2d(0.25))


def test_dropout2d_edge_probabilities_and_3d_warning():
    x = mg.randn(2, 3, 4, 4)
    assert F.dropout2d(x, 0.0) is x
    assert not F.dropout2d(x, 1.0).numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout2d(x, 1.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert F.dropout2d(mg.ones(2, 3, 5), 0.5).shape == (2, 3, 5)
    assert any("3D input" in str(w.message) for w in caught)


# ---------------------------------------------------------------------------- containers


def test_module_dict_matches_torch():
    ours = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    ours["fc"] = nn.Linear(4, 2)
    theirs = torch.nn.ModuleDict({"conv": torch.nn.Conv2d(1, 2, 3), "act": torch.nn.ReLU()})
    theirs["fc"] = torch.nn.Linear(4, 2)
    assert list(ours.keys()) == list(theirs.keys()) == ["conv", "act", "fc"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert "conv" in ours and len(ours) == 3 and list(ours) == ["conv", "act", "fc"]
    assert isinstance(ours.pop("act"), nn.ReLU) and "act" not in ours
    ours.update([("drop", nn.Dropout())])
    assert list(ours.keys()) == ["conv", "fc", "drop"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"a": nn.Linear(3, 1), "b": nn.Linear(3, 2)})

    assert list(Net().state_dict()) == ["heads.a.weight", "heads.a.bias", "heads.b.weight",
                                        "heads.b.bias"]
    with pytest.raises(TypeError):
        ours["bad"] = 3


def test_parameter_list_matches_torch():
    ours = nn.ParameterList([nn.Parameter(mg.zeros(2)), mg.ones(3)])
    ours.append(mg.ones(1, 4))
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2)), torch.ones(3)])
    theirs.append(torch.ones(1, 4))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours)
    assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
    assert ours[-1].shape == (1, 4) and len(ours[1:]) == 2

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([mg.ones(2), mg.ones(2)])

        def forward(self, x):
            for w in self.ws:
                x = x * w
            return x

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["ws.0", "ws.1"]
    net(mg.tensor([1.0, 2.0])).sum().backward()
    assert net.ws[0].grad.tolist() == [1.0, 2.0]
    opt = mg.optim.SGD(net.parameters(), lr=0.1)
    opt.step()
    with pytest.raises(TypeError, match="ParameterList"):
        ours.append("w")


NEW_NN = ["GELU", "SiLU", "ELU", "Softplus", "LogSigmoid", "LayerNorm", "Embedding", "Dropout2d",
          "ModuleDict", "ParameterList", "Unflatten", "AdaptiveAvgPool2d"]
NEW_F = ["gelu", "silu", "elu", "softplus", "logsigmoid", "layer_norm", "embedding", "one_hot",
         "dropout2d", "adaptive_avg_pool2d"]


@pytest.mark.parametrize("name", NEW_NN)
def test_nn_name_exists_as_in_torch(name):
    assert isinstance(getattr(mg.nn, name), type) and hasattr(torch.nn, name)


@pytest.mark.parametrize("name", NEW_F)
def test_functional_name_exists_as_in_torch(name):
    assert callable(getattr(F, name)) and name in F.__all__
    assert hasattr(torch.nn.functional, name)
