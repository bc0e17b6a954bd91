"""Training step of the issue-4 CNN: minigrad vs PyTorch, images/s, with an optional profile.

    python benchmarks/bench_train.py [--batch 32,128] [--steps 20] [--threads N] [--no-torch]
                                     [--profile] [--top 25]

The network (minigrad.bench.minigrad_train_step / torch_train_step):
Conv2d(1,32,3)-ReLU-MaxPool2d(2)-Conv2d(32,64,3)-ReLU-MaxPool2d(2)-Flatten-Linear(1600,128)-
ReLU-Linear(128,10), cross-entropy, Adam(lr=1e-3), one fixed random batch of 28x28 images.
Times are medians over --steps steps after 3 warm-up steps. --profile runs cProfile over the
minigrad steps and prints (a) the functions with the most own time and (b) that time summed
by area (GEMM, im2col/col2im, pooling, elementwise numpy, autograd engine/Python overhead).
For stable numbers run it with MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483648
(`minigrad bench` sets those itself).
"""

import argparse
import cProfile
import io
import os
import pstats
import time

import numpy as np

from minigrad import bench

AREAS = (  # (area, substrings of "file:function"), first match wins
    ("GEMM (cpu.matmul / _gemm_2d)", ("cpu.py:matmul", "cpu.py:_gemm_2d")),
    ("im2col / col2im / layout (conv)", ("_conv_cols", "_images_last", "conv2d_forward",
                                         "conv2d_grad_input", "conv2d_grad_weight")),
    ("pooling kernels", ("max_pool2d_forward", "max_pool2d_backward")),
    ("optimizer", ("optim/",)),
    ("autograd engine", ("autograd.py",)),
    ("ops (Python side)", ("/ops/", "nn/")),
    ("tensor.py", ("tensor.py",)),
)


def median_step(step, steps):
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.percentile(times, 75) - np.percentile(times, 25))


def profile(step, steps, top):
    for _ in range(3):
        step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())
    total = sum(v[2] for v in stats.stats.values())
    by_area = {}
    for (filename, _, func), v in stats.stats.items():
        key = f"{filename}:{func}"
        area = next((a for a, subs in AREAS if any(s in key for s in subs)),
                    "other (numpy, builtins)")
        by_area[area] = by_area.get(area, 0.0) + v[2]  # own time
    print(f"own time by area ({steps} steps, {1e3 * total / steps:.1f} ms/step under the "
          "profiler):")
    for area, t in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(f"  {area:36s} {1e3 * t / steps:8.2f} ms/step  {100 * t / total:5.1f}%")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", default="32,128")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="0: OMP_NUM_THREADS or all cores")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    threads = args.threads or bench.bench_threads()
    gemm = bench._gemm_module()
    if gemm is not None:
        gemm.set_num_threads(threads)
    torch = None if args.no_torch else bench._import_torch(bench.QUICK)
    if torch is not None:
        torch.set_num_threads(threads)
    print(f"{threads} thread(s), load avg {os.getloadavg()[0]:.2f}, torch "
          f"{torch.__version__ if torch else 'not used'}")
    for batch in [int(b) for b in args.batch.split(",")]:
        step, how = bench.minigrad_train_step(batch)
        t, iqr = median_step(step, args.steps)
        line = f"batch {batch:4d}: minigrad {1e3 * t:8.2f} ms (IQR {1e3 * iqr:.2f}) " \
               f"{batch / t:8.1f} img/s"
        if torch is not None:
            tt, tiqr = median_step(bench.torch_train_step(torch, batch), args.steps)
            line += f" | torch {1e3 * tt:8.2f} ms (IQR {1e3 * tiqr:.2f}) {batch / tt:8.1f} img/s" \
                    f" | minigrad/torch speed {tt / t:.2f}"
        print(line + f"   [{how}]")
        if args.profile:
            profile(step, args.steps, args.top)


if __name__ == "__main__":
    main()
