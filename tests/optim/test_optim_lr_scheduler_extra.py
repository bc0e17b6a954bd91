"""LambdaLR, MultiStepLR, LinearLR, OneCycleLR, ReduceLROnPlateau: lr (and momentum / beta1)
sequences equal PyTorch's step for step, over two parameter groups; state_dict round trips
through mg.save resume identically; validation."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.optim import lr_scheduler

torch = pytest.importorskip("torch")


class Warmup:
    """A callable object with state (LambdaLR saves its __dict__)."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


def _opt(lib, opt_name="SGD", groups=2, **opt_kwargs):
    params = []
    for i in range(groups):
        p = (nn.Parameter(mg.ones(1)) if lib is mg else torch.nn.Parameter(torch.ones(1)))
        params.append({"params": [p], "lr": 0.1 * (i + 1)})
    o = (optim if lib is mg else torch.optim)
    return getattr(o, opt_name)(params, lr=0.1, **opt_kwargs)


def _sched(lib, name, kwargs):
    return getattr(lr_scheduler if lib is mg else torch.optim.lr_scheduler, name)


def _trace(opt, sched, steps, metrics=None):
    """get_last_lr and each group's momentum / beta1 before every step."""
    out = []
    for i in range(steps):
        row = list(sched.get_last_lr())
        for g in opt.param_groups:
            row.append(g["betas"][0] if "betas" in g else g.get("momentum", 0.0))
        out.append(row)
        opt.step()
        sched.step(metrics[i]) if metrics is not None else sched.step()
    return np.array(out)


CASES = [
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e), "SGD", {}),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), Warmup(4)]), "SGD", {}),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 12], gamma=0.5), "SGD", {}),
    ("MultiStepLR", dict(milestones=[15, 2]), "Adam", {}),
    ("LinearLR", dict(), "SGD", {}),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.9, total_iters=8), "SGD", {}),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=10), "SGD", {}),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=20), "SGD", dict(momentum=0.9)),
    ("OneCycleLR", dict(max_lr=[0.5, 2.0], epochs=4, steps_per_epoch=5, pct_start=0.25,
                        anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0),
     "SGD", dict(momentum=0.5)),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=20, three_phase=True), "Adam", {}),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=20, cycle_momentum=False), "Adagrad", {}),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=20, base_momentum=[0.8, 0.7],
                        max_momentum=0.99), "RMSprop", dict(momentum=0.1)),
]


@pytest.mark.parametrize("name,kwargs,opt_name,opt_kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_sequences_match_torch(name, kwargs, opt_name, opt_kwargs):
    traces = []
    for lib in (mg, torch):
        opt = _opt(lib, opt_name, **opt_kwargs)
        sched = _sched(lib, name, kwargs)(opt, **kwargs)
        traces.append(_trace(opt, sched, 20 if name == "OneCycleLR" else 25))
    np.testing.assert_allclose(traces[0], traces[1], rtol=1e-13, atol=1e-16)


METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.2, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.5, 2.5, 2.5, 2.5,
           2.5, 2.5, 2.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("kwargs", [
    dict(patience=1),
    dict(patience=2, factor=0.5, cooldown=2),
    dict(mode="max", patience=0, factor=0.3),
    dict(patience=1, threshold=0.1, threshold_mode="abs", min_lr=[0.001, 0.05]),
    dict(mode="max", patience=1, threshold=0.01, threshold_mode="abs", min_lr=0.02),
    dict(patience=0, factor=0.01, min_lr=1e-3, eps=1e-4),
])
def test_reduce_on_plateau_matches_torch(kwargs):
    traces = []
    for lib in (mg, torch):
        opt = _opt(lib)
        sched = _sched(lib, "ReduceLROnPlateau", kwargs)(opt, **kwargs)
        metrics = [lib.tensor(m) if i % 2 else m for i, m in enumerate(METRICS)]  # 0-d tensors too
        traces.append(_trace(opt, sched, len(METRICS), metrics))
        if lib is mg:
            state = (sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch)
        else:
            assert state == (sched.best, sched.num_bad_epochs, sched.cooldown_counter,
                             sched.last_epoch)
    np.testing.assert_allclose(traces[0], traces[1], rtol=1e-13, atol=1e-16)
    assert not np.allclose(traces[0][0, :2], traces[0][-1, :2])  # the lr was cut


@pytest.mark.parametrize("name,kwargs,opt_name", [
    ("LambdaLR", dict(lr_lambda=[lambda e: 0.9 ** e, Warmup(6)]), "SGD"),
    ("MultiStepLR", dict(milestones=[2, 4, 4, 9], gamma=0.5), "SGD"),
    ("LinearLR", dict(start_factor=0.2, total_iters=7), "SGD"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=12, three_phase=True), "Adam"),
    ("ReduceLROnPlateau", dict(patience=1, cooldown=1, factor=0.5), "SGD"),
])
def test_state_dict_round_trip_through_save(name, kwargs, opt_name, tmp_path):
    plateau = name == "ReduceLROnPlateau"
    metrics = METRICS[:12] if plateau else None

    def make():
        opt = _opt(mg, opt_name, **(dict(momentum=0.9) if opt_name == "SGD" else {}))
        return opt, _sched(mg, name, kwargs)(opt, **kwargs)

    opt, sched = make()
    full = _trace(opt, sched, 12, metrics)
    opt, sched = make()
    _trace(opt, sched, 5, metrics)
    sd = {"opt": opt.state_dict(), "sched": sched.state_dict()}
    assert "optimizer" not in sd["sched"]
    if name == "LambdaLR":
        assert sd["sched"]["lr_lambdas"] == [None, {"steps": 6}]
    mg.save(sd, tmp_path / "ckpt.mg")
    loaded = mg.load(tmp_path / "ckpt.mg")
    opt2, sched2 = make()
    if name == "LambdaLR":
        sched2.lr_lambdas[1].steps = 99  # restored from the checkpoint below
    opt2.load_state_dict(loaded["opt"])
    sched2.load_state_dict(loaded["sched"])
    rest = _trace(opt2, sched2, 7, metrics[5:] if plateau else None)
    np.testing.assert_allclose(rest, full[5:], rtol=1e-15)


def test_one_cycle_refuses_too_many_steps_and_bad_arguments():
    opt = _opt(mg, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times"):
        sched.step()
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(_opt(mg), max_lr=0.1)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        lr_scheduler.OneCycleLR(_opt(mg), max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(_opt(mg), max_lr=0.1, total_steps=5, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(_opt(mg), max_lr=0.1, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        lr_scheduler.OneCycleLR(_opt(mg), max_lr=[0.1], total_steps=5)
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(_opt(mg, "Adagrad"), max_lr=0.1, total_steps=5)


def test_validation_of_the_other_schedulers():
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(_opt(mg), [lambda e: 1.0])
    with pytest.raises(TypeError, match="callable"):
        lr_scheduler.LambdaLR(_opt(mg), 0.5)
    with pytest.raises(TypeError, match="milestones must be ints"):
        lr_scheduler.MultiStepLR(_opt(mg), [1.5])
    with pytest.raises(ValueError, match="starting multiplicative factor"):
        lr_scheduler.LinearLR(_opt(mg), start_factor=0)
    with pytest.raises(ValueError, match="ending multiplicative factor"):
        lr_scheduler.LinearLR(_opt(mg), end_factor=1.5)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(_opt(mg), factor=1.0)
    with pytest.raises(ValueError, match="mode 'mean' is unknown"):
        lr_scheduler.ReduceLROnPlateau(_opt(mg), mode="mean")
    with pytest.raises(ValueError, match="threshold mode"):
        lr_scheduler.ReduceLROnPlateau(_opt(mg), threshold_mode="pct")
    with pytest.raises(ValueError, match="expected 2 min_lrs"):
        lr_scheduler.ReduceLROnPlateau(_opt(mg), min_lr=[0.1])
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.ReduceLROnPlateau(object())
    assert math.isinf(lr_scheduler.ReduceLROnPlateau(_opt(mg)).best)


def test_plateau_epoch_argument_as_torch():
    out = []
    for lib in (mg, torch):
        opt = _opt(lib)
        sched = _sched(lib, "ReduceLROnPlateau", {})(opt, patience=0)
        sched.step(1.0)
        with pytest.warns(UserWarning, match="(?i)epoch"):
            sched.step(2.0, epoch=10)
        sched.step(3.0)
        out.append((sched.last_epoch, sched.get_last_lr()))
    assert out[0][0] == out[1][0] == 11
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-15)
