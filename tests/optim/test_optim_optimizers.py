"""Optimizers: three steps against hand-written numpy formulas, 20-step trajectories equal
to PyTorch's for each option combination, hyperparameter validation, state_dict round trip."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim

W0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def loss_fn(w, step):
    """A loss whose gradient changes with w and with the step: sum((w - c)^2 * k) + sum(w^3)/10.

    w is a minigrad or a torch tensor; c and k are made in the same library.
    """
    n = int(np.prod(w.shape))
    c = np.cos(np.arange(n) + step).reshape(w.shape)
    k = 1 + np.arange(n).reshape(w.shape) / 4
    if isinstance(w, mg.Tensor):
        c, k = mg.tensor(c), mg.tensor(k)
    else:
        import torch

        c, k = torch.tensor(c), torch.tensor(k)
    return ((w - c) ** 2 * k).sum() + (w * w * w).sum() / 10


def np_grad(w, step):
    c = np.cos(np.arange(w.size) + step).reshape(w.shape)
    k = 1 + np.arange(w.size).reshape(w.shape) / 4
    return 2 * (w - c) * k + 3 * w * w / 10


def run_mg(make_opt, steps):
    p = nn.Parameter(mg.tensor(W0.copy()))
    opt = make_opt([p])
    out = []
    for step in range(steps):
        opt.zero_grad()
        loss_fn(p, step).backward()
        opt.step()
        out.append(p.detach().numpy().copy())
    return out


def test_sgd_three_steps_by_hand():
    lr, momentum, dampening, wd = 0.05, 0.9, 0.1, 0.01
    ours = run_mg(lambda ps: optim.SGD(ps, lr=lr, momentum=momentum, dampening=dampening,
                                       weight_decay=wd), 3)
    w, buf = W0.copy(), None
    for step in range(3):
        g = np_grad(w, step) + wd * w
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        w = w - lr * buf
        np.testing.assert_allclose(ours[step], w, rtol=1e-13)
    nesterov = run_mg(lambda ps: optim.SGD(ps, lr=lr, momentum=momentum, nesterov=True), 3)
    w, buf = W0.copy(), None
    for step in range(3):
        g = np_grad(w, step)
        buf = g.copy() if buf is None else momentum * buf + g
        w = w - lr * (g + momentum * buf)
        np.testing.assert_allclose(nesterov[step], w, rtol=1e-13)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_and_adamw_three_steps_by_hand(decoupled):
    lr, b1, b2, eps, wd = 0.1, 0.8, 0.95, 1e-6, 0.05
    cls = optim.AdamW if decoupled else optim.Adam
    ours = run_mg(lambda ps: cls(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), 3)
    w, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t in range(1, 4):
        g = np_grad(w, t - 1)
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(ours[t - 1], w, rtol=1e-12)


def test_rmsprop_three_steps_by_hand():
    lr, alpha, eps, momentum = 0.01, 0.9, 1e-8, 0.5
    ours = run_mg(lambda ps: optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                                           centered=True), 3)
    w, v, gm, buf = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), np.zeros_like(W0)
    for step in range(3):
        g = np_grad(w, step)
        v = alpha * v + (1 - alpha) * g * g
        gm = alpha * gm + (1 - alpha) * g
        buf = momentum * buf + g / (np.sqrt(v - gm * gm) + eps)
        w = w - lr * buf
        np.testing.assert_allclose(ours[step], w, rtol=1e-12)


def test_adagrad_three_steps_by_hand():
    lr, lr_decay, wd, init, eps = 0.1, 0.5, 0.05, 0.2, 1e-10
    ours = run_mg(lambda ps: optim.Adagrad(ps, lr=lr, lr_decay=lr_decay, weight_decay=wd,
                                           initial_accumulator_value=init, eps=eps), 3)
    w, acc = W0.copy(), np.full_like(W0, init)
    for t in range(1, 4):
        g = np_grad(w, t - 1) + wd * w
        acc = acc + g * g
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(acc) + eps)
        np.testing.assert_allclose(ours[t - 1], w, rtol=1e-13)


def test_adadelta_three_steps_by_hand():
    lr, rho, eps, wd = 0.5, 0.8, 1e-6, 0.05
    ours = run_mg(lambda ps: optim.Adadelta(ps, lr=lr, rho=rho, eps=eps, weight_decay=wd), 3)
    w, v, u = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for step in range(3):
        g = np_grad(w, step) + wd * w
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        w = w - lr * delta
        np.testing.assert_allclose(ours[step], w, rtol=1e-13)


CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ("SGD", dict(lr=0.002, momentum=0.8, weight_decay=0.1, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.002, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.3, 0.9), weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True, eps=1e-3)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.5, centered=True, momentum=0.5)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.2, initial_accumulator_value=0.5, eps=1e-3)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4)),
    ("Adadelta", dict(lr=0.3, rho=0.95, weight_decay=0.2)),
    ("Adadelta", dict(lr=0.1, weight_decay=0.1, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS,
                         ids=[f"{n}-{sorted(k.items())}" for n, k in CONFIGS])
def test_trajectory_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_mg(lambda ps: getattr(optim, name)(ps, **kwargs), 20)
    p = torch.nn.Parameter(torch.tensor(W0.copy()))
    opt = getattr(torch.optim, name)([p], **kwargs)
    assert np.isfinite(ours[-1]).all()
    for step in range(20):
        opt.zero_grad()
        loss_fn(p, step).backward()
        opt.step()
        np.testing.assert_allclose(ours[step], p.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"step {step}")


def test_param_groups_and_zero_grad():
    a, b = nn.Parameter(mg.ones(2)), nn.Parameter(mg.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9
    (a.sum() + b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.5)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    c = nn.Parameter(mg.ones(1))
    opt.add_param_group({"params": [c]})
    assert opt.param_groups[2]["lr"] == 0.1
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_step_bumps_version_so_stale_graphs_fail():
    p = nn.Parameter(mg.ones(3))
    y = (p * p).sum()
    p.grad = mg.ones(3)
    optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize("make,message", [
    (lambda ps: optim.SGD(ps, lr=-1), "Invalid learning rate: -1"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda ps: optim.Adam(ps, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda ps: optim.AdamW(ps, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.9), "Invalid alpha value: -0.9"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda ps: optim.Adagrad(ps, eps=float("nan")), "Invalid epsilon value: nan"),
    (lambda ps: optim.Adadelta(ps, rho=1.5), "Invalid rho value: 1.5"),
    (lambda ps: optim.Adadelta(ps, lr=-1), "Invalid learning rate: -1"),
    (lambda ps: optim.Adadelta(ps, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda ps: [], "empty parameter list"),
])
def test_hyperparameter_validation(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        opt = make([nn.Parameter(mg.ones(1))])
        optim.SGD(opt, lr=0.1)  # only reached by the empty-list case


def test_rejects_non_leaf_and_non_tensor():
    x = nn.Parameter(mg.ones(2))
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([1.0], lr=0.1)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9)),
                                         ("Adam", dict(lr=0.05, amsgrad=True)),
                                         ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.1,
                                                          initial_accumulator_value=0.3)),
                                         ("Adadelta", dict(lr=0.5, rho=0.7))])
def test_state_dict_round_trip_resumes_identically(name, kwargs, tmp_path):
    full = run_mg(lambda ps: getattr(optim, name)(ps, **kwargs), 6)
    p = nn.Parameter(mg.tensor(W0.copy()))
    opt = getattr(optim, name)([p], **kwargs)
    for step in range(3):
        opt.zero_grad()
        loss_fn(p, step).backward()
        opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and 0 in sd["state"]
    mg.save({"opt": sd, "w": p.detach()}, tmp_path / "o.mg")
    loaded = mg.load(tmp_path / "o.mg")
    # state_dict is a copy: stepping the old optimizer does not change it
    (p.sum()).backward()
    opt.step()
    q = nn.Parameter(mg.tensor(loaded["w"].numpy().copy()))
    opt2 = getattr(optim, name)([q], lr=123.0)
    opt2.load_state_dict(loaded["opt"])
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    for step in range(3, 6):
        opt2.zero_grad()
        loss_fn(q, step).backward()
        opt2.step()
        np.testing.assert_allclose(q.detach().numpy(), full[step], rtol=1e-13)
    with pytest.raises(ValueError, match="parameter groups"):
        opt2.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        group = dict(sd["param_groups"][0], params=[0, 1])
        opt2.load_state_dict({"state": {}, "param_groups": [group]})


@pytest.mark.parametrize("name,kwargs", [("Adagrad", dict(lr=0.1, lr_decay=0.1)),
                                         ("Adadelta", dict(lr=0.5))])
def test_state_layout_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    p = nn.Parameter(mg.tensor(W0.copy()))
    tp = torch.nn.Parameter(torch.tensor(W0.copy()))
    ours, theirs = getattr(optim, name)([p], **kwargs), getattr(torch.optim, name)([tp], **kwargs)
    # Adagrad makes its state at construction, Adadelta at the first step, in both libraries.
    assert sorted(ours.state_dict()["state"]) == sorted(theirs.state_dict()["state"])
    loss_fn(p, 0).backward()
    loss_fn(tp, 0).backward()
    ours.step()
    theirs.step()
    s, ts = ours.state_dict(), theirs.state_dict()
    assert sorted(s["state"][0]) == sorted(ts["state"][0])
    for key, value in ts["state"][0].items():
        got = s["state"][0][key]
        np.testing.assert_allclose(got.numpy() if isinstance(got, mg.Tensor) else got,
                                   value.numpy(), rtol=1e-12)
    for key in set(s["param_groups"][0]) & set(ts["param_groups"][0]) - {"params"}:
        assert s["param_groups"][0][key] == ts["param_groups"][0][key], key
