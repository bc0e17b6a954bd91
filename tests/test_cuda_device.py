"""The whole library on "cuda", against the same computation on the CPU.

Every test takes the `device` fixture restricted to "cuda": a real GPU when CuPy sees one, the
emulated device under MINIGRAD_FAKE_CUDA=1 (numpy-backed arrays that refuse implicit conversion
to numpy, so a stray numpy call on device data fails here as on a GPU), otherwise skipped
(MINIGRAD_REQUIRE_GPU=1: failed). CI runs this file under MINIGRAD_FAKE_CUDA=1. Shapes are
small: the emulated kernels are slow.

Tolerances: float64 computations agree to 1e-10 (the CUDA kernels sum in a different order
than the CPU's); float32 training to 1e-4 relative.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.opspecs import ALL_SPECS

CUDA = pytest.mark.parametrize("device", ["cuda"], indirect=True)
F64 = dict(rtol=1e-10, atol=1e-10)
F32 = dict(rtol=1e-4, atol=1e-5)


def host(t):
    """A Tensor's values as a numpy array, whatever its device."""
    return t.detach().cpu().numpy()


def assert_same(got, want, **tol):
    """A tensor on the device equals its CPU twin (values, shape and dtype)."""
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(host(got), host(want), **(tol or F64))


def twins(arrays, device, requires_grad=True):
    """The same leaves on the CPU and on `device`."""
    cpu = [mg.tensor(a, requires_grad=requires_grad) for a in arrays]
    dev = [mg.tensor(a, device=device, requires_grad=requires_grad) for a in arrays]
    return cpu, dev


# ---------------------------------------------------------------------------- every registry op


@CUDA
@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_registry_op_forward_and_gradient_match_cpu(device, spec):
    rng = np.random.default_rng(0)
    for case in spec.shape_cases(rng)[:2]:
        arrays = [np.asarray(a, dtype=np.float64) for a in spec.sample(rng, case)]
        cpu, dev = twins(arrays, device, requires_grad=spec.differentiable)
        want, got = spec.fn(*cpu), spec.fn(*dev)
        assert got.device == device
        assert_same(got, want)
        if not spec.differentiable:
            continue
        v = rng.standard_normal(want.shape)
        want.backward(mg.tensor(v))
        got.backward(mg.tensor(v, device=device))
        for c, d in zip(cpu, dev):
            assert (c.grad is None) == (d.grad is None), spec.name
            if c.grad is not None:
                assert d.grad.device == device
                assert_same(d.grad, c.grad)


# ---------------------------------------------------------------------------- modules


def _modules():
    nn = mg.nn
    return {
        "linear": (lambda: nn.Linear(5, 3), (4, 5)),
        "conv2d": (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 7, 6)),
        "conv2d_nobias": (lambda: nn.Conv2d(2, 4, (2, 3), bias=False), (2, 2, 5, 5)),
        "batchnorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 3, 3)),
        "batchnorm1d": (lambda: nn.BatchNorm1d(5), (6, 5)),
        "layernorm": (lambda: nn.LayerNorm(5), (3, 5)),
        "pools": (lambda: nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2, stride=1),
                                        nn.AdaptiveAvgPool2d(1)), (2, 3, 7, 7)),
        "activations": (lambda: nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 6),
                                              nn.SiLU(), nn.Tanh(), nn.Softplus(),
                                              nn.LeakyReLU(0.1), nn.ELU(), nn.Sigmoid(),
                                              nn.LogSoftmax(dim=1)), (3, 4)),
        "activations_part3": (lambda: nn.Sequential(nn.Linear(4, 6), nn.GELU("tanh"),
                                                    nn.LogSigmoid(), nn.Unflatten(1, (2, 3)),
                                                    nn.LayerNorm((2, 3)), nn.Flatten()), (3, 4)),
    }


MODULES = _modules()


@CUDA
@pytest.mark.parametrize("name", list(MODULES))
def test_module_forward_backward_match_cpu(device, name):
    make, shape = MODULES[name]
    mg.manual_seed(0)
    cpu_model = make().double()
    dev_model = make().double()
    dev_model.load_state_dict(cpu_model.state_dict())
    assert dev_model.to(device) is dev_model
    for p in dev_model.parameters():
        assert p.device == device and p.is_leaf and p.requires_grad
    x = np.random.default_rng(1).standard_normal(shape)
    (xc,), (xd,) = twins([x], device)
    want, got = cpu_model(xc), dev_model(xd)
    assert_same(got, want)
    want.sum().backward()
    got.sum().backward()
    assert_same(xd.grad, xc.grad)
    for (name_c, pc), (name_d, pd) in zip(cpu_model.named_parameters(),
                                          dev_model.named_parameters()):
        assert name_c == name_d and pd.grad.device == device
        assert_same(pd.grad, pc.grad)
    for (_, bc), (_, bd) in zip(cpu_model.named_buffers(), dev_model.named_buffers()):
        assert bd.device == device  # running statistics stay on the device
        assert_same(bd, bc)


@CUDA
def test_embedding_and_dropout_on_device(device):
    mg.manual_seed(0)
    emb = mg.nn.Embedding(10, 3).double()
    twin = mg.nn.Embedding(10, 3).double()
    twin.load_state_dict(emb.state_dict())
    twin.to(device)
    index = np.array([[1, 2, 2], [9, 0, 1]])
    want = emb(mg.tensor(index))
    got = twin(mg.tensor(index, device=device))
    assert_same(got, want)
    want.sum().backward()
    got.sum().backward()
    assert_same(twin.weight.grad, emb.weight.grad)  # repeated indices accumulate on the device
    mg.manual_seed(3)
    a = mg.nn.functional.dropout(mg.ones(50, dtype=mg.float64), 0.5)
    mg.manual_seed(3)
    b = mg.nn.functional.dropout(mg.ones(50, dtype=mg.float64, device=device), 0.5)
    assert_same(b, a)  # the same generator draws the same mask


@CUDA
def test_module_to_cuda_and_back(device):
    model = mg.nn.Sequential(mg.nn.Conv2d(1, 2, 3), mg.nn.BatchNorm2d(2))
    values = {k: host(v).copy() for k, v in model.state_dict().items()}
    model.cuda()
    assert all(t.device == device for t in model.state_dict().values())
    model.to("cpu")
    assert all(t.device == "cpu" for t in model.state_dict().values())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(host(v), values[k])
    model.to(device)
    assert mg.Device(device) == next(iter(model.parameters())).device


# ---------------------------------------------------------------------------- losses


def _losses():
    F = mg.nn.functional
    return {
        "cross_entropy": lambda x, t, p: F.cross_entropy(x, t),
        "cross_entropy_sum": lambda x, t, p: F.cross_entropy(x, t, reduction="sum"),
        "nll_loss": lambda x, t, p: F.nll_loss(F.log_softmax(x, 1), t),
        "mse_loss": lambda x, t, p: F.mse_loss(x, p),
        "bce": lambda x, t, p: F.binary_cross_entropy(x.sigmoid(), p.sigmoid()),
        "bce_with_logits": lambda x, t, p: F.binary_cross_entropy_with_logits(x, p.sigmoid()),
        "CrossEntropyLoss": lambda x, t, p: mg.nn.CrossEntropyLoss()(x, t),
        "cross_entropy_options": lambda x, t, p: F.cross_entropy(
            x, t, weight=mg.arange(1, 5, dtype=x.dtype, device=x.device), ignore_index=2,
            label_smoothing=0.2),
        "bce_with_logits_pos_weight": lambda x, t, p: F.binary_cross_entropy_with_logits(
            x, p.sigmoid(), pos_weight=mg.full((4,), 3.0, dtype=x.dtype, device=x.device)),
        "l1_loss": lambda x, t, p: F.l1_loss(x, p),
        "smooth_l1_loss": lambda x, t, p: mg.nn.SmoothL1Loss(beta=0.5)(x, p),
        "huber_loss": lambda x, t, p: mg.nn.HuberLoss(delta=0.7, reduction="sum")(x, p),
        "kl_div": lambda x, t, p: F.kl_div(F.log_softmax(x, 1), F.softmax(p, 1),
                                           reduction="batchmean"),
    }


LOSSES = _losses()


@CUDA
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_matches_cpu(device, name):
    rng = np.random.default_rng(2)
    x, p = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    target = rng.integers(0, 4, 5)
    (xc,), (xd,) = twins([x], device)
    want = LOSSES[name](xc, mg.tensor(target), mg.tensor(p))
    got = LOSSES[name](xd, mg.tensor(target, device=device), mg.tensor(p, device=device))
    assert got.device == device
    assert_same(got, want)
    want.backward()
    got.backward()
    assert_same(xd.grad, xc.grad)


# ---------------------------------------------------------------------------- optimizers


def _optimizers():
    optim = mg.optim
    return {
        "sgd": lambda ps: optim.SGD(ps, lr=0.1),
        "sgd_momentum_nesterov_wd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9,
                                                         nesterov=True, weight_decay=0.01),
        "adam": lambda ps: optim.Adam(ps, lr=0.01),
        "adam_amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1),
        "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
        "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5),
        "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                            initial_accumulator_value=0.1),
        "adadelta": lambda ps: optim.Adadelta(ps, lr=0.5, rho=0.8, weight_decay=0.1),
    }


OPTIMIZERS = _optimizers()


def _train(model, make_opt, device, steps=3):
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(4)
    for _ in range(steps):
        x = mg.tensor(rng.standard_normal((6, 4)), device=device)
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
    return opt


@CUDA
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_match_cpu(device, name):
    mg.manual_seed(0)
    cpu_model = mg.nn.Linear(4, 3).double()
    dev_model = mg.nn.Linear(4, 3).double()
    dev_model.load_state_dict(cpu_model.state_dict())
    dev_model.to(device)
    _train(cpu_model, OPTIMIZERS[name], "cpu")
    opt = _train(dev_model, OPTIMIZERS[name], device)
    for pc, pd in zip(cpu_model.parameters(), dev_model.parameters()):
        assert pd.device == device
        assert_same(pd, pc)
    for state in opt.state_dict()["state"].values():
        for key, value in state.items():
            if isinstance(value, mg.Tensor):
                assert value.device == device, key


# ---------------------------------------------------------------------------- save / load


@CUDA
def test_save_load_cuda_tensors_and_state_dicts(device, tmp_path):
    mg.manual_seed(0)
    model = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.BatchNorm1d(3)).double().to(device)
    opt = _train(model, OPTIMIZERS["adam"], device, steps=2)
    t = mg.arange(6, dtype=mg.float32, device=device).reshape(2, 3)
    path = tmp_path / "ckpt.mg"
    mg.save({"t": t, "model": model.state_dict(), "opt": opt.state_dict()}, path)
    loaded = mg.load(path)
    assert loaded["t"].device == device  # back on the device it was saved from, as torch.load
    np.testing.assert_array_equal(host(loaded["t"]), host(t))
    on_cpu = mg.load(path, map_location="cpu")  # e.g. on a machine without a GPU
    assert on_cpu["t"].device == "cpu" and on_cpu["model"]["0.weight"].device == "cpu"
    np.testing.assert_array_equal(on_cpu["t"].numpy(), host(t))
    loaded = on_cpu
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(host(loaded["model"][key]), host(value))

    mg.manual_seed(1)  # a different initialisation, then the checkpoint on the device
    twin = mg.nn.Sequential(mg.nn.Linear(4, 3), mg.nn.BatchNorm1d(3)).double().to(device)
    twin.load_state_dict(loaded["model"])
    twin_opt = OPTIMIZERS["adam"](twin.parameters())
    twin_opt.load_state_dict(loaded["opt"])
    for key, value in twin.state_dict().items():
        assert value.device == device
        np.testing.assert_array_equal(host(value), host(model.state_dict()[key]))
    # Both continue identically after the round trip.
    rng = np.random.default_rng(5)
    x = mg.tensor(rng.standard_normal((6, 4)), device=device)
    for m, o in ((model, opt), (twin, twin_opt)):
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(host(a), host(b))


# ---------------------------------------------------------------------------- the benchmark CNN


@CUDA
def test_benchmark_cnn_training_steps_equal_cpu_run(device):
    from minigrad.training import build_model

    images, labels = mg.data.load_digits()
    losses = {}
    models = {}
    for where in ("cpu", device):
        mg.manual_seed(0)
        model = build_model("cnn", 8).to(where)
        opt = mg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        history = []
        x, y = images[:32].to(where), labels[:32].to(where)
        for _ in range(3):
            opt.zero_grad()
            loss = mg.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            history.append(loss.item())
        losses[where], models[where] = history, model
    np.testing.assert_allclose(losses[device], losses["cpu"], **F32)
    assert losses["cpu"][-1] < losses["cpu"][0]  # it trains (on this one batch)
    for pc, pd in zip(models["cpu"].parameters(), models[device].parameters()):
        assert pd.device == device
        np.testing.assert_allclose(host(pd), host(pc), **F32)


# ---------------------------------------------------------------------------- device rules


@CUDA
@pytest.mark.parametrize("mix", [
    lambda c, d: c + d,
    lambda c, d: d * c,
    lambda c, d: c @ d.reshape(3, 1),
    lambda c, d: mg.where(c > 0, c, d),
    lambda c, d: mg.cat([c, d]),
    lambda c, d: mg.nn.functional.mse_loss(d, c),
    lambda c, d: mg.nn.Linear(3, 1)(d),  # weights on the CPU, input on the device
], ids=["add", "mul", "matmul", "where", "cat", "mse_loss", "linear"])
def test_mixing_devices_raises_runtime_error(device, mix):
    c = mg.ones(3, dtype=mg.float32)
    d = mg.ones(3, dtype=mg.float32, device=device)
    with pytest.raises(RuntimeError, match="device"):
        mix(c, d)


@CUDA
def test_device_tensors_convert_to_numpy_only_explicitly(device):
    t = mg.arange(3, dtype=mg.float32, device=device)
    assert t.device == device and t.is_cuda if hasattr(t, "is_cuda") else True
    with pytest.raises(TypeError, match="cpu"):
        t.numpy()
    assert t.cpu().numpy().tolist() == [0.0, 1.0, 2.0]
    assert t.tolist() == [0.0, 1.0, 2.0] and t[1].item() == 1.0
    assert mg.cuda.is_available() and mg.cuda.device_count() >= 1


@CUDA
def test_factories_on_device_match_cpu(device):
    for make in (lambda **kw: mg.zeros(2, 3, **kw), lambda **kw: mg.ones(4, **kw),
                 lambda **kw: mg.arange(5, **kw), lambda **kw: mg.full((2,), 7.0, **kw),
                 lambda **kw: mg.eye(3, **kw)):
        assert_same(make(device=device), make())
    mg.manual_seed(7)
    a = mg.randn(3, 2)
    mg.manual_seed(7)
    b = mg.randn(3, 2, device=device)
    assert b.device == device
    assert_same(b, a)
