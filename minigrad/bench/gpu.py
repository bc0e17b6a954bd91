"""`minigrad bench --device cuda`: our CUDA kernels (backend/cuda.py) on the GPU, side by side
with cuBLAS (cupy.matmul, TF32 off), PyTorch CUDA / cuDNN (when a CUDA build of torch is
installed; TF32 off too), and the CNN's training step against PyTorch's.

Timing: kernels are timed on the GPU with CUDA events (cupyx.profiler.benchmark for CuPy,
torch.cuda.Event for PyTorch) after a warm-up that also excludes compilation; the training
step, which includes Python and launch overhead, is timed by the wall clock between device
synchronisations. The median of the repeats is reported. Under MINIGRAD_FAKE_CUDA=1 (the
emulated device, no GPU) everything runs with the wall clock at toy sizes: a smoke run of
this code, not a measurement.
"""

import json
import os
import sys
import time

import numpy as np

from .config import CONV_LAYERS, POOL_LAYERS

MINIGRAD, CUBLAS, TORCH = "minigrad", "cupy (cuBLAS)", "torch CUDA"
FULL_SIZES, QUICK_SIZES, SMOKE_SIZES = (1024, 2048, 4096, 8192), (1024, 2048, 4096), (16,)
TARGETS = (  # (group, workload, minimum, aim, what) for minigrad's speed / the baseline's
    ("gemm", "4096x4096x4096", 0.5, 0.8, "GEMM vs cuBLAS at 4096^3"),
    ("train", "N=128", 0.5, 1.0, "training step vs PyTorch CUDA, batch 128"),
    ("train", "N=1024", 0.5, 1.0, "training step vs PyTorch CUDA, batch 1024"),
)


class _Gpu:
    """The device module and its clocks (real CuPy, or the emulated stand-in)."""

    def __init__(self, device_index, repeats, warmup):
        from .. import cuda
        from ..backend import device

        cuda.require(device_index)
        self.xp, self.emulated = device._cupy(), cuda.FAKE
        self.index, self.repeats, self.warmup = device_index, repeats, warmup

    def sync(self):
        if not self.emulated:
            self.xp.cuda.Device(self.index).synchronize()

    def kernel_time(self, fn):
        """Median GPU seconds of fn() (CUDA events), or wall seconds when emulated."""
        if self.emulated:
            return self.wall_time(fn)
        from cupyx.profiler import benchmark

        result = benchmark(fn, n_repeat=self.repeats, n_warmup=self.warmup)
        return float(np.median(result.gpu_times[0]))

    def wall_time(self, fn):
        for _ in range(self.warmup):
            fn()
        self.sync()
        times = []
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - t0)
        return float(np.median(times))


def _torch_cuda():
    """torch with a usable CUDA device and TF32 off, or None."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def _torch_time(torch, fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return float(np.median(times))


def _row(group, workload, impl, seconds, work, unit, note=""):
    rate = None if seconds is None else (work / seconds / 1e9 if unit == "GFLOP/s"
                                         else work / seconds)
    return {"group": group, "workload": workload, "impl": impl, "median_s": seconds,
            "rate": rate, "unit": unit, "note": note}


def _gemm_rows(gpu, sizes):
    from ..backend import cuda

    xp, rows = gpu.xp, []
    for n in sizes:
        rng = np.random.default_rng(n)
        a = xp.asarray(rng.standard_normal((n, n), dtype=np.float32))
        b = xp.asarray(rng.standard_normal((n, n), dtype=np.float32))
        ours, theirs = cuda.matmul(a, b), xp.matmul(a, b)
        err = float(abs(ours - theirs).max()) / max(float(abs(theirs).max()), 1e-30)
        label, flops = f"{n}x{n}x{n}", 2.0 * n ** 3
        rows.append(_row("gemm", label, MINIGRAD, gpu.kernel_time(lambda: cuda.matmul(a, b)),
                         flops, "GFLOP/s", f"max rel. diff to cuBLAS {err:.1e}"))
        rows.append(_row("gemm", label, CUBLAS, gpu.kernel_time(lambda: xp.matmul(a, b)),
                         flops, "GFLOP/s"))
    return rows


def _conv_pool_rows(gpu, torch, batches, scale=1):
    from ..backend import cuda

    xp, rows = gpu.xp, []
    for batch in batches:
        rng = np.random.default_rng(batch)
        for name, C, O, H in CONV_LAYERS:
            H = max(3, H // scale)
            x = rng.standard_normal((batch, C, H, H), dtype=np.float32)
            w = rng.standard_normal((O, C, 3, 3), dtype=np.float32) * 0.1
            b = rng.standard_normal(O, dtype=np.float32)
            gy = rng.standard_normal((batch, O, H - 2, H - 2), dtype=np.float32)
            dx, dw, db, dgy = (xp.asarray(v) for v in (x, w, b, gy))
            flops = 2.0 * batch * O * (H - 2) ** 2 * C * 9

            def fwd_bwd():
                cuda.conv2d_forward(dx, dw, db, (1, 1), (0, 0))
                cuda.conv2d_grad_input(dgy, dw, dx.shape, (1, 1), (0, 0))
                cuda.conv2d_grad_weight(dx, dgy, dw.shape, (1, 1), (0, 0))
                dgy.sum(axis=(0, 2, 3))

            label = f"N={batch} {name} {C}->{O} {H}x{H}"
            rows.append(_row("conv", label + " fwd", MINIGRAD, gpu.kernel_time(
                lambda: cuda.conv2d_forward(dx, dw, db, (1, 1), (0, 0))), flops, "GFLOP/s"))
            rows.append(_row("conv", label + " fwd+bwd", MINIGRAD, gpu.kernel_time(fwd_bwd),
                             3 * flops, "GFLOP/s"))
            if torch is not None:
                tx, tw, tb, tgy = (torch.as_tensor(v, device=f"cuda:{gpu.index}")
                                   for v in (x, w, b, gy))
                F = torch.nn.functional
                rows.append(_row("conv", label + " fwd", TORCH, _torch_time(
                    torch, lambda: F.conv2d(tx, tw, tb), gpu.repeats, gpu.warmup),
                    flops, "GFLOP/s"))
                txr, twr, tbr = (t.clone().requires_grad_() for t in (tx, tw, tb))
                rows.append(_row("conv", label + " fwd+bwd", TORCH, _torch_time(
                    torch, lambda: torch.autograd.grad(F.conv2d(txr, twr, tbr), (txr, twr, tbr),
                                                       tgy), gpu.repeats, gpu.warmup),
                    3 * flops, "GFLOP/s"))
        for name, C, H in POOL_LAYERS:
            H = max(2, H // scale)
            x = xp.asarray(rng.standard_normal((batch, C, H, H), dtype=np.float32))

            def pool():
                y, argmax = cuda.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
                cuda.max_pool2d_backward(y, argmax, x.shape, (2, 2), (2, 2), (0, 0))

            label = f"N={batch} {name} {C}x{H}x{H} max 2x2 fwd+bwd"
            rows.append(_row("pool", label, MINIGRAD, gpu.kernel_time(pool), batch, "img/s"))
            if torch is not None:
                tx = torch.as_tensor(x.get(), device=f"cuda:{gpu.index}").requires_grad_()

                def torch_pool():
                    y = torch.nn.functional.max_pool2d(tx, 2)
                    torch.autograd.grad(y, tx, y)

                rows.append(_row("pool", label, TORCH, _torch_time(torch, torch_pool,
                                                                   gpu.repeats, gpu.warmup),
                                 batch, "img/s"))
    return rows


def _cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def _train_rows(gpu, torch, batches):
    import minigrad as mg

    rows, device = [], f"cuda:{gpu.index}"
    for batch in batches:
        rng = np.random.default_rng(batch)
        x_np = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
        y_np = rng.integers(0, 10, batch)
        label = f"N={batch}"
        try:
            mg.manual_seed(0)
            net = _cnn(mg.nn).to(device)
            opt = mg.optim.Adam(net.parameters(), lr=1e-3)
            loss_fn = mg.nn.CrossEntropyLoss()
            x, y = mg.tensor(x_np, device=device), mg.tensor(y_np, device=device)

            def step():
                opt.zero_grad()
                loss_fn(net(x), y).backward()
                opt.step()

            rows.append(_row("train", label, MINIGRAD, gpu.wall_time(step), batch, "img/s"))
        except Exception as exc:  # report, don't hide: the table says why there is no figure
            rows.append(_row("train", label, MINIGRAD, None, batch, "img/s",
                             f"FAILED: {type(exc).__name__}: {exc}"))
        if torch is not None:
            torch.manual_seed(0)
            tnet = _cnn(torch.nn).to(device)
            topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
            tloss = torch.nn.CrossEntropyLoss()
            tx, ty = torch.as_tensor(x_np, device=device), torch.as_tensor(y_np, device=device)

            def torch_step():
                topt.zero_grad(set_to_none=True)
                tloss(tnet(tx), ty).backward()
                topt.step()

            def torch_wall(fn):
                for _ in range(gpu.warmup):
                    fn()
                torch.cuda.synchronize()
                times = []
                for _ in range(gpu.repeats):
                    t0 = time.perf_counter()
                    fn()
                    torch.cuda.synchronize()
                    times.append(time.perf_counter() - t0)
                return float(np.median(times))

            rows.append(_row("train", label, TORCH, torch_wall(torch_step), batch, "img/s"))
    return rows


def _ratios(rows):
    """Each minigrad row's speed relative to the other impl(s) of its workload."""
    for r in rows:
        if r["impl"] != MINIGRAD or r["median_s"] is None:
            continue
        others = [o["median_s"] for o in rows if o["group"] == r["group"] and o["workload"] ==
                  r["workload"] and o["impl"] != MINIGRAD and o["median_s"]]
        r["ratio"] = min(others) / r["median_s"] if others else None
    return rows


def run_gpu_benchmarks(mode="full", device_index=0):
    """{"machine": ..., "rows": [...], "targets": [...]} of one GPU run."""
    smoke = mode == "smoke"
    repeats, warmup = {"full": (20, 3), "quick": (8, 2), "smoke": (1, 1)}[mode]
    gpu = _Gpu(device_index, repeats, warmup)
    torch = None if smoke else _torch_cuda()
    sizes = {"full": FULL_SIZES, "quick": QUICK_SIZES, "smoke": SMOKE_SIZES}[mode]
    batches = (2,) if smoke else (128, 1024)
    rows = _gemm_rows(gpu, sizes)
    rows += _conv_pool_rows(gpu, torch, batches, scale=4 if smoke else 1)
    rows += _train_rows(gpu, torch, batches)
    _ratios(rows)
    targets = []
    for group, workload, minimum, aim, what in TARGETS:
        r = next((r for r in rows if (r["group"], r["workload"], r["impl"]) ==
                  (group, workload, MINIGRAD)), None)
        ratio = None if r is None else r.get("ratio")
        verdict = "not measured" if ratio is None else (
            "aim met" if ratio >= aim else "met" if ratio >= minimum else "NOT met")
        targets.append({"target": what, "minimum": minimum, "aim": aim, "ratio": ratio,
                        "verdict": verdict})
    return {"machine": _machine(gpu, torch), "mode": mode, "rows": rows, "targets": targets}


def _machine(gpu, torch):
    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "emulated": gpu.emulated,
            "torch": None if torch is None else torch.__version__,
            "CUPY_TF32": os.environ.get("CUPY_TF32", "unset")}
    if not gpu.emulated:
        props = gpu.xp.cuda.runtime.getDeviceProperties(gpu.index)
        info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["cupy"] = gpu.xp.__version__
        info["cuda_runtime"] = gpu.xp.cuda.runtime.runtimeGetVersion()
    else:
        info["gpu"] = "emulated (MINIGRAD_FAKE_CUDA): timings are not GPU figures"
    return info


def format_gpu_report(report):
    m = report["machine"]
    lines = [f"minigrad bench --device cuda ({report['mode']}) - {m['date']}",
             f"GPU {m['gpu']}; torch {m['torch'] or 'without CUDA / not installed'}; "
             f"CUPY_TF32={m['CUPY_TF32']}", "",
             f"  {'group':6s} {'workload':44s} {'impl':14s} {'median':>10s} {'rate':>10s} "
             f"{'unit':8s} {'vs best other':>13s}"]
    for r in report["rows"]:
        t = "-" if r["median_s"] is None else f"{r['median_s'] * 1e3:.3f} ms"
        rate = "-" if r["rate"] is None else f"{r['rate']:.1f}"
        ratio = "" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
        lines.append(f"  {r['group']:6s} {r['workload']:44s} {r['impl']:14s} {t:>10s} "
                     f"{rate:>10s} {r['unit']:8s} {ratio:>13s} {r['note']}")
    lines += ["", "targets (minigrad speed / baseline speed):"]
    for t in report["targets"]:
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        lines.append(f"  {t['target']}: {ratio} (minimum {t['minimum']}, aim {t['aim']}): "
                     f"{t['verdict']}")
    return "\n".join(lines)


def gpu_bench_main(args):
    """Entry point of `minigrad bench --device cuda[:N]`; returns the exit code."""
    from ..backend.device import Device

    os.environ.setdefault("CUPY_TF32", "0")  # read by CuPy at import: full fp32 cuBLAS
    try:
        device = Device(args.device)
    except (TypeError, ValueError) as exc:
        print(f"minigrad bench: {exc}", file=sys.stderr)
        return 2
    mode = "smoke" if getattr(args, "smoke", False) else "quick" if args.quick else "full"
    try:
        report = run_gpu_benchmarks(mode, device.index or 0)
    except RuntimeError as exc:
        if "not available" not in str(exc):
            raise
        print(f"minigrad bench --device {args.device}: {exc}", file=sys.stderr)
        return 2
    print(format_gpu_report(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    return 0
