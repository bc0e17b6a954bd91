"""Benchmark minigrad's native GEMM against numpy's BLAS (OpenBLAS) on this machine.

    python benchmarks/bench_gemm.py [--dtype float32|float64] [--threads 1,2] [--quick]
                                    [--rounds 2] [--only conv]

Each (library, thread count) runs in its own child process so that
  * the malloc thresholds are set before the interpreter starts (stable timings: large
    arrays otherwise come from fresh mmaps and every call pays page faults),
  * numpy's OpenBLAS picks its kernel by itself: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
    are removed from the child's environment, and the kernel threadpoolctl reports is
    printed,
  * thread counts are set cleanly (threadpoolctl for OpenBLAS, gemm.set_num_threads for us).
Times are medians over repeats; GFLOP/s = 2*M*N*K*batch / time.
"""
import argparse
import json
import os
import subprocess
import sys
import time

SQUARE = [("square", n, n, n, False, False) for n in (256, 512, 1024, 2048)]
# (name, M, N, K, trans_a, trans_b): the CNN's GEMMs (batch 128, im2col convs), with the
# operands laid out as the backward pass holds them (transposes are views, not copies).
CNN = [
    ("conv1 fwd  cols@W", 86528, 32, 9, False, False),
    ("conv1 gW   dY^T@cols", 32, 9, 86528, True, False),
    ("conv2 fwd  cols@W", 15488, 64, 288, False, False),
    ("conv2 gW   dY^T@cols", 64, 288, 15488, True, False),
    ("conv2 gX   dY@W^T", 15488, 288, 64, False, True),
    ("fc1 fwd    X@W^T", 128, 128, 1600, False, True),
    ("fc1 gW     dY^T@X", 128, 1600, 128, True, False),
    ("fc1 gX     dY@W", 128, 1600, 128, False, False),
    ("fc2 fwd    X@W^T", 128, 10, 128, False, True),
    ("fc2 gW     dY^T@X", 10, 128, 128, True, False),
    ("fc2 gX     dY@W", 128, 128, 10, False, False),
]


def _load_gemm():
    """The installed extension, or (if the package import is broken mid-edit) the built
    .so next to this script's repo, loaded on its own: it does not need the package."""
    try:
        from minigrad.kernels.cpu import gemm
        return gemm
    except Exception:
        import glob
        import importlib.util

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = glob.glob(os.path.join(root, "kernels", "cpu", "gemm.*.so"))[0]
        spec = importlib.util.spec_from_file_location("gemm", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod


def child(lib, threads, dtype, cases, min_time):
    import numpy as np

    rng = np.random.default_rng(0)
    info = {}
    if lib == "numpy":
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(threads)
        blas = [d for d in threadpool_info() if d.get("user_api") == "blas"]
        info = {k: blas[0].get(k) for k in ("internal_api", "architecture", "version",
                                            "num_threads")} if blas else {}

        def mm(a, b):
            return np.matmul(a, b)
    else:
        gemm = _load_gemm()

        gemm.set_num_threads(threads)
        info = {"isa": gemm.isa(), "num_threads": gemm.get_num_threads(),
                "openmp": gemm.has_openmp()}

        def mm(a, b):
            return gemm.matmul(a, b)
    res = []
    for name, m, n, k, ta, tb in cases:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
        a = a.T if ta else a  # a transposed *view*; both libraries get the same operand
        b = b.T if tb else b
        mm(a, b)
        times = []
        t_end = time.perf_counter() + min_time
        while len(times) < 5 or (time.perf_counter() < t_end and len(times) < 200):
            t0 = time.perf_counter()
            mm(a, b)
            times.append(time.perf_counter() - t0)
        t = sorted(times)[len(times) // 2]
        res.append({"name": name, "shape": [m, n, k], "sec": t,
                    "gflops": 2.0 * m * n * k / t / 1e9})
    print(json.dumps({"info": info, "res": res}))


def run_child(lib, threads, dtype, quick):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["MALLOC_MMAP_THRESHOLD_"] = str(1 << 30)
    env["MALLOC_TRIM_THRESHOLD_"] = str(1 << 31)
    cmd = [sys.executable, __file__, "--child", lib, "--threads", str(threads), "--dtype", dtype]
    if quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _best(x, y):
    """Per case, keep the faster of two runs' medians."""
    x["res"] = [a if a["gflops"] >= b["gflops"] else b for a, b in zip(x["res"], y["res"])]
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--child", choices=["numpy", "ours"])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--quick", action="store_true", help="shorter timing loops")
    p.add_argument("--only", default="", help="substring filter on case names")
    p.add_argument("--rounds", type=int, default=2,
                   help="alternate ours/numpy children this many times and keep each case's "
                        "best median (the 2-core VM sees bursts of outside load)")
    args = p.parse_args()
    cases = [c for c in SQUARE + CNN if args.only in c[0] + str(c[1])]
    min_time = 0.15 if args.quick else 0.5
    if args.child:
        child(args.child, int(args.threads), args.dtype, cases, min_time)
        return
    for threads in [int(t) for t in args.threads.split(",")]:
        ours = ref = None
        for _ in range(args.rounds):
            o = run_child("ours", threads, args.dtype, args.quick)
            r = run_child("numpy", threads, args.dtype, args.quick)
            ours = o if ours is None else _best(ours, o)
            ref = r if ref is None else _best(ref, r)
        print(f"\n{args.dtype}, {threads} thread(s)  ours: {ours['info']}  numpy: {ref['info']}")
        print(f"{'case':24s} {'M,N,K':>18s} {'ours GF/s':>10s} {'numpy GF/s':>10s} {'ratio':>6s}")
        for o, r in zip(ours["res"], ref["res"]):
            if args.only and args.only not in o["name"] + str(o["shape"][0]):
                continue
            shape = ",".join(map(str, o["shape"]))
            print(f"{o['name']:24s} {shape:>18s} {o['gflops']:10.1f} {r['gflops']:10.1f} "
                  f"{o['gflops'] / r['gflops']:6.2f}")


if __name__ == "__main__":
    main()
