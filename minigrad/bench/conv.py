"""Kernel-level conv2d and max-pool workloads on the CNN's layer shapes: our compiled kernels,
the numpy reference kernels and torch."""

import numpy as np

from .config import CONV_LAYERS, MINIGRAD, POOL_LAYERS, REFERENCE, TORCH
from .machine import _BlasThreads
from .results import Result
from .timing import _measure_impls


def _conv_results(cfg, threads, torch, progress):
    from ..backend import cpu, reference

    rng = np.random.default_rng(1)
    one, zero = (1, 1), (0, 0)
    results = []
    for batch in cfg.batches:
        for name, C, O, H in CONV_LAYERS:
            x = rng.standard_normal((batch, C, H, H)).astype(np.float32)
            w = (rng.standard_normal((O, C, 3, 3)) * 0.1).astype(np.float32)
            b = rng.standard_normal(O).astype(np.float32)
            OH = H - 2
            gy = rng.standard_normal((batch, O, OH, OH)).astype(np.float32)
            flops = 2.0 * batch * O * OH * OH * C * 9
            for kind in ("fwd", "fwd+bwd"):
                label = f"{name} {C}->{O} {H}x{H} N={batch} {kind}"
                progress.set(f"conv {label}")
                impls = []
                for impl, k in ((MINIGRAD, cpu), (REFERENCE, reference)):
                    impls.append((impl, _conv_kernel_fn(k, kind, x, w, b, gy, one, zero)))
                if torch is not None:
                    impls.append((TORCH, _conv_torch_fn(torch, kind, x, w, b, gy)))
                work = flops * (1 if kind == "fwd" else 3)
                with _BlasThreads(threads):
                    timings = _measure_impls(cfg, impls, progress=progress)
                for impl, timing in timings.items():
                    results.append(Result("conv", label, impl, timing, work, "GFLOP/s"))
    return results


def _conv_kernel_fn(k, kind, x, w, b, gy, one, zero):
    if kind == "fwd":
        return lambda: k.conv2d_forward(x, w, b, one, zero)

    def fwd_bwd():  # as ops/conv.py's Conv2d: the forward's im2col columns serve the dW
        _, cols = k.conv2d_forward(x, w, b, one, zero, keep_cols=True)
        k.conv2d_grad_input(gy, w, x.shape, one, zero)
        k.conv2d_grad_weight(x, gy, w.shape, one, zero, cols=cols)
        gy.sum(axis=(0, 2, 3))

    return fwd_bwd


def _conv_torch_fn(torch, kind, x, w, b, gy):
    F = torch.nn.functional
    xt, wt, bt, gyt = (torch.from_numpy(a) for a in (x, w, b, gy))
    if kind == "fwd":
        def fwd():
            with torch.no_grad():
                F.conv2d(xt, wt, bt)
        return fwd
    leaves = [t.clone().requires_grad_() for t in (xt, wt, bt)]

    def fwd_bwd():
        for t in leaves:
            t.grad = None
        F.conv2d(*leaves).backward(gyt)

    return fwd_bwd


def _pool_results(cfg, torch, progress):
    from ..backend import cpu, reference

    rng = np.random.default_rng(2)
    k, zero = (2, 2), (0, 0)
    results = []
    for batch in cfg.batches:
        for name, C, H in POOL_LAYERS:
            x = rng.standard_normal((batch, C, H, H)).astype(np.float32)
            gy = rng.standard_normal((batch, C, H // 2, H // 2)).astype(np.float32)
            label = f"{name} ({batch},{C},{H},{H}) 2x2 fwd+bwd"
            progress.set(f"pool {label}")
            impls = [(impl, _pool_kernel_fn(mod, x, gy, k, zero))
                     for impl, mod in ((MINIGRAD, cpu), (REFERENCE, reference))]
            if torch is not None:
                xt = torch.from_numpy(x).clone().requires_grad_()
                gyt = torch.from_numpy(gy)

                def t_fn(xt=xt, gyt=gyt):
                    xt.grad = None
                    torch.nn.functional.max_pool2d(xt, 2).backward(gyt)

                impls.append((TORCH, t_fn))
            for impl, timing in _measure_impls(cfg, impls, progress=progress).items():
                results.append(Result("pool", label, impl, timing))
    return results


def _pool_kernel_fn(mod, x, gy, k, zero):
    def fn():
        _, argmax = mod.max_pool2d_forward(x, k, k, zero)
        mod.max_pool2d_backward(gy, argmax, x.shape, k, k, zero)

    return fn
