"""The training-step workload: one Adam step of the CNN in minigrad (mg.nn or core ops), in
PyTorch, and in minigrad on the reference kernels (child process)."""

from dataclasses import asdict

import numpy as np

from .child import _child_env, _run_child, _threads_env
from .config import MINIGRAD, REFERENCE, TORCH, Config
from .machine import _BlasThreads
from .results import Result
from .timing import Timing, _measure_impls, measure


def _have_nn():
    """Whether mg.nn / mg.optim provide what the CNN needs (they are written separately)."""
    try:
        import minigrad as mg

        nn, optim = mg.nn, mg.optim
        needed = [getattr(nn, n) for n in ("Sequential", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
                                           "Linear")]
        needed.append(optim.Adam)
        needed.append(getattr(nn, "CrossEntropyLoss", None) or nn.functional.cross_entropy)
    except (AttributeError, ImportError):
        return False
    return True


def minigrad_train_step(batch, seed=0):
    """(step(), how) for one Adam training step of the CNN on a fixed random batch.

    Uses mg.nn + mg.optim.Adam when they exist, else the same network from core ops
    (conv2d, max_pool2d, relu, matmul, log_softmax) with Adam written out on the raw arrays.
    """
    import minigrad as mg

    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = mg.tensor(rng.integers(0, 10, batch))
    if _have_nn():
        nn = mg.nn
        mg.manual_seed(seed)
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = mg.optim.Adam(net.parameters(), lr=1e-3)
        if hasattr(nn, "CrossEntropyLoss"):
            loss_fn = nn.CrossEntropyLoss()
        else:
            loss_fn = nn.functional.cross_entropy

        def step():
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            return loss

        return step, "mg.nn + mg.optim.Adam"
    return _core_ops_train_step(x, y, rng), "core ops + hand-written Adam (mg.nn/optim absent)"


def _core_ops_train_step(x, y, rng):
    import minigrad as mg
    from ..ops.conv import conv2d, max_pool2d

    def param(*shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return mg.tensor(rng.uniform(-bound, bound, shape).astype(np.float32), requires_grad=True)

    params = [param(32, 1, 3, 3, fan_in=9), param(32, fan_in=9),
              param(64, 32, 3, 3, fan_in=288), param(64, fan_in=288),
              param(128, 1600, fan_in=1600), param(128, fan_in=1600),
              param(10, 128, fan_in=128), param(10, fan_in=128)]
    w1, b1, w2, b2, w3, b3, w4, b4 = params
    m = [np.zeros_like(p._data) for p in params]
    v = [np.zeros_like(p._data) for p in params]
    n = x.shape[0]
    rows = mg.arange(n)
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-8
    t = [0]

    def step():
        for p in params:
            p.grad = None
        h = max_pool2d(mg.relu(conv2d(x, w1, b1)), 2)
        h = max_pool2d(mg.relu(conv2d(h, w2, b2)), 2).reshape(n, 1600)
        h = mg.relu(h @ w3.T + b3)
        logits = h @ w4.T + b4
        loss = -mg.log_softmax(logits, 1)[rows, y].mean()
        loss.backward()
        t[0] += 1
        c1, c2 = 1 - beta1 ** t[0], 1 - beta2 ** t[0]
        with mg.no_grad():
            for p, mi, vi in zip(params, m, v):
                g = p.grad._data
                mi *= beta1
                mi += (1 - beta1) * g
                vi *= beta2
                vi += (1 - beta2) * g * g
                p._data -= (lr / c1) * mi / (np.sqrt(vi / c2) + eps)
        return loss

    return step


def torch_train_step(torch, batch, seed=0):
    nn = torch.nn
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _train_results(cfg, threads, torch, progress):
    results, how = [], None
    for batch in cfg.batches:
        label = f"N={batch}"
        progress.set(f"train step {label}")
        step, how = minigrad_train_step(batch)
        impls = [(MINIGRAD, step)]
        if torch is not None:
            impls.append((TORCH, torch_train_step(torch, batch)))
        with _BlasThreads(threads):
            timings = _measure_impls(cfg, impls, train=True, progress=progress)
        for impl, timing in timings.items():
            results.append(Result("train", label, impl, timing, batch, "img/s",
                                  note=how if impl == MINIGRAD else ""))
    if cfg.train_reference:
        progress.set("train step on the reference kernels (child process)")
        task = {"task": "train", "batches": list(cfg.batches), "config": asdict(cfg),
                "threads": threads}
        env = _child_env(extra={"MINIGRAD_DISABLE_EXT": "1", **_threads_env(threads)})
        try:
            answer = _run_child(task, env)
            for batch, t in zip(cfg.batches, answer["timings"]):
                results.append(Result("train", f"N={batch}", REFERENCE, Timing(**t), batch,
                                      "img/s", note="MINIGRAD_DISABLE_EXT=1, child process"))
        except Exception as exc:  # noqa: BLE001
            results.append(Result("train", f"N={cfg.batches[-1]}", REFERENCE,
                                  note=f"failed: {exc}"))
        progress.step(len(cfg.batches))
    return results, how


def _child_train(task):
    cfg = Config(**task["config"])
    from ..backend import cpu

    out = []
    with _BlasThreads(task["threads"]):
        for batch in task["batches"]:
            step, _ = minigrad_train_step(batch)
            # Not a target's peer and slow: fewer repeats than the in-process impls.
            out.append(asdict(measure(step, warmup=1, min_repeats=max(3, cfg.min_repeats // 3),
                                      max_repeats=cfg.max_repeats,
                                      min_time=cfg.train_min_time / 2)))
    return {"timings": out, "kernel_sources": cpu.kernel_sources()}
