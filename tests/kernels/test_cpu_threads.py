"""The compiled kernels give the reference's numbers whatever team size OpenMP grants.

A parallel kernel may ask for n threads and get fewer: OMP_THREAD_LIMIT, OMP_DYNAMIC on a busy
machine, OMP_MAX_ACTIVE_LEVELS=0, or being called from inside another parallel region (nested
regions get one thread by default). Each case runs in a child process, so a kernel that
segfaults fails its test instead of killing pytest, and so the OMP_* variables are read fresh.
Every threaded path is exercised: the GEMM's M, N and K splits and its batch loop, both conv
layouts (per-image batched GEMM; the implicit GEMMs of the large layers), im2col / col2im,
and max / average pooling forward and backward.
"""

import os
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("minigrad.kernels.cpu.gemm")
pytest.importorskip("minigrad.kernels.cpu.conv")
pytest.importorskip("minigrad.kernels.cpu.pool")

from minigrad.kernels.cpu import hello  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Every case is large enough to take the threaded path (MG_PAR_MIN_WORK in gemm_driver.h,
# MG_SERIAL_BELOW in threads.h) and small enough to run in well under a second.
CHECK_ALL = textwrap.dedent("""
    import sys, threading
    import numpy as np
    from minigrad.backend import cpu, reference as ref

    def close(name, got, want, rtol):
        got, want = np.asarray(got), np.asarray(want)
        scale = max(1.0, float(np.abs(want).max(initial=0)))
        err = float(np.abs(got.astype(np.float64) - want).max(initial=0)) / scale
        if not (got.shape == want.shape and np.isfinite(got).all() and err <= rtol):
            raise AssertionError(f"{name}: max relative error {err:.3g}, shape {got.shape}")

    def check_all(seed):
        rng = np.random.default_rng(seed)
        for dtype, rtol in ((np.float32, 1e-4), (np.float64, 1e-10)):
            def rand(*shape):
                return rng.standard_normal(shape).astype(dtype)
            for name, (m, k, n) in {"M split": (600, 300, 500), "N split": (16, 300, 4000),
                                    "K split": (16, 65536, 16)}.items():
                a, b = rand(m, k), rand(k, n)
                close(f"matmul {name} {dtype.__name__}", cpu.matmul(a, b), ref.matmul(a, b), rtol)
            a, b = rand(64, 32, 32), rand(64, 32, 32)  # many small products: the batch loop
            close(f"batched matmul {dtype.__name__}", cpu.matmul(a, b), ref.matmul(a, b), rtol)
            for layout, x_shape, w_shape in (("per-image", (8, 1, 28, 28), (8, 1, 3, 3)),
                                             ("whole-batch", (8, 32, 13, 13), (64, 32, 3, 3))):
                x, w, b = rand(*x_shape), rand(*w_shape), rand(w_shape[0])
                s, p = (1, 1), (1, 1)
                y = cpu.conv2d_forward(x, w, b, s, p)
                close(f"conv2d_forward {layout} {dtype.__name__}", y,
                      ref.conv2d_forward(x, w, b, s, p), rtol)
                gy = rand(*y.shape)
                close(f"conv2d_grad_input {layout} {dtype.__name__}",
                      cpu.conv2d_grad_input(gy, w, x.shape, s, p),
                      ref.conv2d_grad_input(gy, w, x.shape, s, p), rtol)
                close(f"conv2d_grad_weight {layout} {dtype.__name__}",
                      cpu.conv2d_grad_weight(x, gy, w.shape, s, p),
                      ref.conv2d_grad_weight(x, gy, w.shape, s, p), rtol)
            x = rand(8, 16, 28, 28)
            window = ((3, 3), (2, 2), (1, 1))
            y, argmax = cpu.max_pool2d_forward(x, *window)
            y_ref, argmax_ref = ref.max_pool2d_forward(x, *window)
            close(f"max_pool2d_forward {dtype.__name__}", y, y_ref, 0)
            close(f"max_pool2d_forward argmax {dtype.__name__}", argmax, argmax_ref, 0)
            gy = rand(*y.shape)
            close(f"max_pool2d_backward {dtype.__name__}",
                  cpu.max_pool2d_backward(gy, argmax, x.shape, *window),
                  ref.max_pool2d_backward(gy, argmax_ref, x.shape, *window), rtol)
            close(f"avg_pool2d_forward {dtype.__name__}", cpu.avg_pool2d_forward(x, *window),
                  ref.avg_pool2d_forward(x, *window), rtol)
            close(f"avg_pool2d_backward {dtype.__name__}",
                  cpu.avg_pool2d_backward(gy, x.shape, *window),
                  ref.avg_pool2d_backward(gy, x.shape, *window), rtol)

    def run_concurrently(start_all):
        # start_all(fn) runs fn(seed) on several threads at once; collect every failure
        errors = []
        def guarded(seed):
            try:
                check_all(seed)
            except BaseException as e:
                errors.append(repr(e))
        start_all(guarded)
        if errors:
            raise AssertionError("; ".join(errors))

    def python_threads(fn):
        threads = [threading.Thread(target=fn, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def outer_openmp_region(fn):
        from minigrad.kernels.cpu import hello
        hello.call_in_parallel_region(lambda: fn(hello.thread_num()), 2)

    mode = sys.argv[1]
    if mode == "plain":
        check_all(0)
    elif mode == "python-threads":
        run_concurrently(python_threads)
    elif mode == "outer-openmp":
        run_concurrently(outer_openmp_region)
    print("all kernels agree with the reference")
""")

ENV_SETTINGS = {
    "default": {},
    "OMP_THREAD_LIMIT=1": {"OMP_THREAD_LIMIT": "1"},
    "OMP_DYNAMIC=true": {"OMP_DYNAMIC": "true"},
    "OMP_MAX_ACTIVE_LEVELS=0": {"OMP_MAX_ACTIVE_LEVELS": "0"},
    "OMP_NUM_THREADS=3": {"OMP_NUM_THREADS": "3"},  # more threads than this machine has cores
}


def run_child(args, env=None, timeout=240):
    """Run python with args in a child process; returns the CompletedProcess."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MINIGRAD_"))}
    child_env.update(env or {})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=child_env, timeout=timeout, cwd=ROOT)


def assert_child_ok(result):
    # a negative return code is a signal: -11 is the segfault of an unset K-split partial
    assert result.returncode == 0, (
        f"child exited with {result.returncode}\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr[-3000:]}")


@pytest.mark.parametrize("setting", list(ENV_SETTINGS))
def test_kernels_match_reference_under_openmp_setting(setting):
    assert_child_ok(run_child(["-c", CHECK_ALL, "plain"], ENV_SETTINGS[setting]))


@pytest.mark.parametrize("mode", ["outer-openmp", "python-threads"])
def test_kernels_match_reference_called_from_threads(mode):
    """Kernels called from every thread of an outer OpenMP region (whose nested regions get a
    team of one), and from several Python threads at once."""
    assert_child_ok(run_child(["-c", CHECK_ALL, mode]))


def test_outer_region_helper_really_runs_a_parallel_region():
    """The test-only helper behind "outer-openmp" calls fn on every thread of a real team."""
    seen = []
    team = hello.call_in_parallel_region(lambda: seen.append(hello.thread_num()), 2)
    if not hello.has_openmp():
        pytest.skip("built without OpenMP: there is no outer region to nest in")
    assert team == 2
    assert sorted(seen) == [0, 1]


ACCURACY = re.compile(r"test accuracy: (\d\.\d{4})")


def test_train_accuracy_is_the_same_under_a_thread_limit():
    """`minigrad train` gave 0.53 instead of 0.96 under OMP_THREAD_LIMIT=1 (the evaluation's
    large GEMM left rows unset); the run must not depend on the team size."""
    argv = ["-m", "minigrad", "train", "--model", "mlp", "--epochs", "2"]
    accuracy = {}
    for name, env in (("default", {}), ("limited", {"OMP_THREAD_LIMIT": "1"})):
        result = run_child(argv, env)
        assert_child_ok(result)
        accuracy[name] = float(ACCURACY.findall(result.stdout)[-1])
    assert accuracy["default"] >= 0.9
    assert abs(accuracy["limited"] - accuracy["default"]) <= 0.005, accuracy
