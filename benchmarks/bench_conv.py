"""Conv2d and pooling kernel timings: minigrad's CPU backend (and its numpy reference) vs PyTorch.

Usage: python benchmarks/bench_conv.py [--dtype float32] [--repeat 30] [--no-torch]
Times are medians in ms of forward (y) and forward+backward (y, gx, gw / y, gx), on the
layer shapes of the MNIST CNN. Record the thread count (OMP_NUM_THREADS) with the numbers.
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


def median_ms(f, repeat):
    for _ in range(3):
        f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def conv_fns(kernels, x, w, b, one, zero):
    def fwd():
        kernels.conv2d_forward(x, w, b, one, zero)

    def fwd_bwd():
        y = kernels.conv2d_forward(x, w, b, one, zero)
        gy = y  # any array of y's shape
        kernels.conv2d_grad_input(gy, w, x.shape, one, zero)
        kernels.conv2d_grad_weight(x, gy, w.shape, one, zero)
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
    print(f"dtype {dtype}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"cpu_count {os.cpu_count()}, sources {sorted(set(cpu.kernel_sources().values()))}")
    rng = np.random.default_rng(0)
    one, zero = (1, 1), (0, 0)
    rows = [("cpu", cpu)] + ([("reference", reference)] if args.reference else [])
    for N, C, O, H, K in CONVS:
        x = rng.standard_normal((N, C, H, H)).astype(dtype)
        w = rng.standard_normal((O, C, K, K)).astype(dtype)
        b = rng.standard_normal(O).astype(dtype)
        line = f"conv {C:>2}->{O:<2} {H}x{H} K{K} N={N:<3}"
        for name, kernels in rows:
            f, fb = conv_fns(kernels, x, w, b, one, zero)
            line += f" | {name} fwd {median_ms(f, args.repeat):7.3f} f+b {median_ms(fb, args.repeat):7.3f}"
        if torch is not None:
            f, fb = torch_conv_fns(torch, x, w, b)
            line += f" | torch fwd {median_ms(f, args.repeat):7.3f} f+b {median_ms(fb, args.repeat):7.3f}"
        print(line)
    for N, C, H, K in POOLS:
        x = rng.standard_normal((N, C, H, H)).astype(dtype)
        k = (K, K)
        line = f"pool {(N, C, H, H)} K{K}"
        for name, kernels in rows:
            def max_fb():
                y, a = kernels.max_pool2d_forward(x, k, k, zero)
                kernels.max_pool2d_backward(y, a, x.shape, k, k, zero)

            def avg_fb():
                y = kernels.avg_pool2d_forward(x, k, k, zero)
                kernels.avg_pool2d_backward(y, x.shape, k, k, zero)

            line += (f" | {name} max f+b {median_ms(max_fb, args.repeat):6.3f}"
                     f" avg f+b {median_ms(avg_fb, args.repeat):6.3f}")
        if torch is not None:
            xt = torch.from_numpy(x).requires_grad_()

            def t_max():
                y = torch.nn.functional.max_pool2d(xt, K)
                y.backward(y.detach())

            def t_avg():
                y = torch.nn.functional.avg_pool2d(xt, K)
                y.backward(y.detach())

            line += (f" | torch max f+b {median_ms(t_max, args.repeat):6.3f}"
                     f" avg f+b {median_ms(t_avg, args.repeat):6.3f}")
        print(line)


if __name__ == "__main__":
    main()
