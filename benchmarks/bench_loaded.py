"""minigrad vs PyTorch on a loaded machine: conv2d per layer and batch (forward; forward+backward
as ops/conv.py runs it: kept im2col columns serve the weight gradient) and the training step
at batch 32 and 128, interleaved rounds, medians of wall time *and* CPU time (process_time).

    OMP_NUM_THREADS=1 ROUNDS=5 python benchmarks/bench_loaded.py

When other processes keep the cores busy, wall times measure the scheduler; CPU time of a
single-threaded run still compares the work each library does. Needs torch.
"""
import time, os, sys, numpy as np
from minigrad.backend import cpu
from minigrad import bench
import torch
nt = int(os.environ.get("OMP_NUM_THREADS", "1")); torch.set_num_threads(nt)
F = torch.nn.functional
rng = np.random.default_rng(0)
one, zero = (1, 1), (0, 0)
rounds = int(os.environ.get("ROUNDS", "7"))
def measure(fns, reps):
    res = {k: [] for k in fns}
    for r in range(rounds):
        for k, f in fns.items():
            f(); t0 = time.perf_counter(); c0 = time.process_time()
            for _ in range(reps): f()
            res[k].append(((time.perf_counter() - t0) / reps, (time.process_time() - c0) / reps))
    out = {}
    for k, v in res.items():
        out[k] = (np.median([a for a, _ in v]) * 1e3, np.median([c for _, c in v]) * 1e3)
    return out
print(f"threads {nt}, load at start {os.getloadavg()}")
for N in (32, 128):
    for name, C, O, H in (("conv1", 1, 32, 28), ("conv2", 32, 64, 13)):
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((O, C, 3, 3)) * .1).astype(np.float32)
        b = rng.standard_normal(O).astype(np.float32)
        gy = rng.standard_normal((N, O, H - 2, H - 2)).astype(np.float32)
        def mfb():
            _, c = cpu.conv2d_forward(x, w, b, one, zero, keep_cols=True)
            cpu.conv2d_grad_input(gy, w, x.shape, one, zero)
            cpu.conv2d_grad_weight(x, gy, w.shape, one, zero, cols=c); gy.sum(axis=(0, 2, 3))
        xt, wt, bt, gyt = (torch.from_numpy(a) for a in (x, w, b, gy))
        leaves = [t.clone().requires_grad_() for t in (xt, wt, bt)]
        def tfb():
            for t in leaves: t.grad = None
            F.conv2d(*leaves).backward(gyt)
        def tf():
            with torch.no_grad(): F.conv2d(xt, wt, bt)
        r = measure({"mg fwd": lambda: cpu.conv2d_forward(x, w, b, one, zero), "torch fwd": tf,
                     "mg fwd+bwd": mfb, "torch fwd+bwd": tfb}, 3)
        for kind in ("fwd", "fwd+bwd"):
            m, t = r["mg " + kind], r["torch " + kind]
            print(f"{name} N={N:3d} {kind:8s} mg wall {m[0]:7.2f} cpu {m[1]:7.2f} | torch wall {t[0]:7.2f} cpu {t[1]:7.2f} | speed ratio wall {t[0]/m[0]:.2f} cpu {t[1]/m[1]:.2f}")
    sys.stdout.flush()
for N in (32, 128):
    step, how = bench.minigrad_train_step(N)
    tstep = bench.torch_train_step(torch, N)
    r = measure({"mg": step, "torch": tstep}, 2)
    m, t = r["mg"], r["torch"]
    print(f"train N={N:3d} mg wall {m[0]:7.2f} cpu {m[1]:7.2f} ({N/m[1]*1e3:.0f} img/s cpu) | torch wall {t[0]:7.2f} cpu {t[1]:7.2f} ({N/t[1]*1e3:.0f} img/s cpu) | ratio wall {t[0]/m[0]:.2f} cpu {t[1]/m[1]:.2f}  [{how}]")
print(f"load at end {os.getloadavg()}")
