"""Conv2d and pooling kernel timings: minigrad's CPU backend (and its numpy reference) vs PyTorch.

Usage: python benchmarks/bench_conv.py [--dtype float32] [--repeat 30] [--no-torch]
Times are the best of --repeat runs, in ms, of forward (y) and forward+backward (y, gx, gw /
y, gx), on the layer shapes of the MNIST CNN. The contenders run interleaved, so a busy machine
slows them alike; still, record the load average and thread count (OMP_NUM_THREADS) with them.
"""

import argparse
import os
import time

import numpy as np

from minigrad.backend import cpu, reference

CONVS = [  # (N, C, O, H, K)
    (32, 1, 32, 28, 3),
    (128, 1, 32, 28, 3),
    (32, 32, 64, 13, 3),
    (128, 32, 64, 13, 3),
]
POOLS = [(128, 32, 26, 2), (128, 64, 11, 2), (32, 64, 11, 2)]  # (N, C, H, K), stride K


def best_ms(fns, repeat, rounds=3):
    """{name: best time in ms} for the zero-argument callables in fns.

    Each round runs every callable repeat/rounds times in a row (not strictly alternating, so
    one library's idle OpenMP threads are not still spinning while the other's run).
    """
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, f in fns.items():
            f()
            for _ in range(max(1, repeat // rounds)):
                t = time.perf_counter()
                f()
                best[name] = min(best[name], time.perf_counter() - t)
    return {name: 1e3 * t for name, t in best.items()}


def conv_fns(kernels, x, w, b, one, zero):
    def fwd():
        kernels.conv2d_forward(x, w, b, one, zero)

    def fwd_bwd():  # as ops/conv.py's Conv2d: the forward's im2col columns serve the dW
        y, cols = kernels.conv2d_forward(x, w, b, one, zero, keep_cols=True)
        gy = y  # any array of y's shape
        kernels.conv2d_grad_input(gy, w, x.shape, one, zero)
        kernels.conv2d_grad_weight(x, gy, w.shape, one, zero, cols=cols)
        gy.sum(axis=(0, 2, 3))

    return fwd, fwd_bwd


def torch_conv_fns(torch, x, w, b):
    xt = torch.from_numpy(x).requires_grad_()
    conv = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2:])
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
        conv.bias.copy_(torch.from_numpy(b))

    def fwd():
        with torch.no_grad():
            conv(xt)

    def fwd_bwd():
        y = conv(xt)
        y.backward(y.detach())

    return fwd, fwd_bwd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--reference", action="store_true", help="also time backend/reference.py")
    args = parser.parse_args()
    dtype = np.dtype(args.dtype)
    torch = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
        except ImportError:
            print("torch not installed: skipping the PyTorch column")
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"load average {os.getloadavg()[0]:.2f}, dtype {dtype}, OMP_NUM_THREADS={threads}, "
          f"cpu_count {os.cpu_count()}, sources {sorted(set(cpu.kernel_sources().values()))}")
    rng = np.random.default_rng(0)
    one, zero = (1, 1), (0, 0)
    rows = [("cpu", cpu)] + ([("reference", reference)] if args.reference else [])
    for N, C, O, H, K in CONVS:
        x = rng.standard_normal((N, C, H, H)).astype(dtype)
        w = rng.standard_normal((O, C, K, K)).astype(dtype)
        b = rng.standard_normal(O).astype(dtype)
        fns = {}
        for name, kernels in rows:
            fns[name + " fwd"], fns[name + " f+b"] = conv_fns(kernels, x, w, b, one, zero)
        if torch is not None:
            fns["torch fwd"], fns["torch f+b"] = torch_conv_fns(torch, x, w, b)
        times = best_ms(fns, args.repeat)
        print(f"conv {C:>2}->{O:<2} {H}x{H} K{K} N={N:<3} | "
              + " | ".join(f"{name} {t:7.3f}" for name, t in times.items()))
    for N, C, H, K in POOLS:
        x = rng.standard_normal((N, C, H, H)).astype(dtype)
        fns = {}
        for name, kernels in rows:
            fns[name + " max f+b"], fns[name + " avg f+b"] = pool_fns(kernels, x, K)
        if torch is not None:
            fns["torch max f+b"], fns["torch avg f+b"] = torch_pool_fns(torch, x, K)
        times = best_ms(fns, args.repeat)
        print(f"pool {(N, C, H, H)} K{K} | "
              + " | ".join(f"{name} {t:6.3f}" for name, t in times.items()))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def pool_fns(kernels, x, K):
    k, zero = (K, K), (0, 0)

    def max_fb():
        y, argmax = kernels.max_pool2d_forward(x, k, k, zero)
        kernels.max_pool2d_backward(y, argmax, x.shape, k, k, zero)

    def avg_fb():
        y = kernels.avg_pool2d_forward(x, k, k, zero)
        kernels.avg_pool2d_backward(y, x.shape, k, k, zero)

    return max_fb, avg_fb


def torch_pool_fns(torch, x, K):
    xt = torch.from_numpy(x).requires_grad_()

    def max_fb():
        y = torch.nn.functional.max_pool2d(xt, K)
        y.backward(y.detach())

    def avg_fb():
        y = torch.nn.functional.avg_pool2d(xt, K)
        y.backward(y.detach())

    return max_fb, avg_fb


if __name__ == "__main__":
    main()
