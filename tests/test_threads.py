"""mg.set_num_threads / mg.get_num_threads (as PyTorch's) and `minigrad train --threads N`.

The setting must reach every compiled CPU kernel: each module's own copy of it
(kernel_num_threads) and the team its parallel regions really ran with (last_team_size, read in
a child process with a clean OpenMP environment). Results with 1 and 2 threads are the same.
"""

import contextlib
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import pytest

import minigrad as mg
from minigrad import cli, threads, training
from minigrad.backend import cpu, reference


@pytest.fixture(autouse=True)
def _restore_threads():
    previous = threads._setting
    yield
    threads._restore(previous)


def _compiled_modules():
    modules = threads._modules()
    if not modules:
        pytest.skip("no compiled CPU kernels in this install (MINIGRAD_NO_EXT)")
    return modules


@pytest.mark.parametrize("n", [1, 2, 3, 7, np.int64(2)])
def test_get_returns_what_was_set(n):
    mg.set_num_threads(n)
    assert mg.get_num_threads() == int(n) and type(mg.get_num_threads()) is int


@pytest.mark.parametrize("bad", [1.5, 2.0, "2", None, True, [2]])
def test_non_int_is_a_type_error(bad):
    before = mg.get_num_threads()
    with pytest.raises(TypeError, match="set_num_threads: expected an int"):
        mg.set_num_threads(bad)
    assert mg.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, -(2**40), 2**31, 2**70])
def test_out_of_range_is_a_value_error(bad):
    before = mg.get_num_threads()
    with pytest.raises(ValueError, match="set_num_threads: the number of threads must be"):
        mg.set_num_threads(bad)
    assert mg.get_num_threads() == before


def test_default_is_at_least_one():
    threads._restore(None)
    assert mg.get_num_threads() >= 1


def test_every_compiled_module_gets_the_setting():
    modules = _compiled_modules()
    # every kernel source that includes the thread policy is a module that gets the setting
    sources = Path(__file__).resolve().parents[1] / "kernels" / "cpu"
    with_policy = {p.stem for p in sources.glob("*.pyx") if 'include "threads.pxi"' in p.read_text()}
    assert {"gemm", "conv", "pool", "elementwise", "hello"} <= with_policy
    assert {m.__name__.rsplit(".", 1)[-1] for m in modules} == with_policy
    for n in (1, 2, 5):
        mg.set_num_threads(n)
        openmp = {name: n for name in threads.kernel_num_threads()}
        serial = {m.__name__.rsplit(".", 1)[-1]: 1 for m in modules if not m.has_openmp()}
        assert threads.kernel_num_threads() == {**openmp, **serial}
    # A huge setting is accepted (as PyTorch does) but a region never asks for more than
    # MG_MAX_THREADS (threads.h).
    mg.set_num_threads(100_000)
    assert mg.get_num_threads() == 100_000
    assert all(v <= 256 for v in threads.kernel_num_threads().values())


# A child process: every kernel family once per setting, reporting the team it really got.
TEAM_SIZES = textwrap.dedent("""
    import json, sys
    import numpy as np
    import minigrad as mg
    from minigrad.backend import cpu
    from minigrad.kernels.cpu import conv, gemm, pool
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((400, 300)), rng.standard_normal((300, 400))
    x = rng.standard_normal((8, 32, 13, 13)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    p = rng.standard_normal((8, 16, 28, 28))
    teams = {}
    for n in [int(v) for v in sys.argv[1:]]:
        if n:
            mg.set_num_threads(n)
        cpu.matmul(a, b)
        seen = {"gemm": gemm.last_team_size()}
        cpu.conv2d_forward(x, w, None, (1, 1), (1, 1))  # the implicit GEMM (gemm module)
        seen["conv fwd"] = gemm.last_team_size()
        cpu._conv_cols(x, (3, 3), (1, 1), (1, 1), (13, 13))  # im2col (the small layers')
        seen["conv"] = conv.last_team_size()
        cpu.max_pool2d_forward(p, (2, 2), (2, 2), (0, 0))
        seen["pool"] = pool.last_team_size()
        teams[n] = seen
    print(json.dumps(teams))
""")


def _team_sizes(settings, **env):
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    child_env.update(OMP_WAIT_POLICY="PASSIVE", **env)
    proc = subprocess.run([sys.executable, "-c", TEAM_SIZES, *map(str, settings)],
                          capture_output=True, text=True, env=child_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    import json

    return {int(k): v for k, v in json.loads(proc.stdout.splitlines()[-1]).items()}


def test_kernels_run_with_the_team_that_was_set():
    modules = _compiled_modules()
    if not all(m.has_openmp() for m in modules):
        pytest.skip("kernels built without OpenMP: every kernel runs serially")
    teams = _team_sizes([2, 1, 3], OMP_NUM_THREADS="1")
    for n in (1, 2, 3):
        assert teams[n] == {"gemm": n, "conv fwd": n, "conv": n, "pool": n}, teams
    # Without a call, OMP_NUM_THREADS decides.
    assert _team_sizes([0], OMP_NUM_THREADS="2")[0] == {"gemm": 2, "conv fwd": 2, "conv": 2,
                                                        "pool": 2}


@pytest.mark.parametrize("n, ncpu, others, expected", [
    (2, 2, 0.0, 2), (2, 2, 0.4, 2), (2, 2, 0.6, 1), (2, 2, 1.0, 1), (2, 2, 7.5, 1),
    (8, 8, 3.0, 5), (4, 8, 0.0, 4), (16, 8, 0.0, 8), (1, 2, 0.0, 1), (3, 4, -0.2, 3),
])
def test_busy_rule_leaves_the_cores_others_use(n, ncpu, others, expected):
    for module in _compiled_modules():
        assert module.busy_threads(n, ncpu, others) == expected, module.__name__


# A child process: the GEMM's team on a machine where spinning processes keep all cores but
# one busy, with the default settings and then with an explicit mg.set_num_threads.
BUSY_TEAMS = textwrap.dedent("""
    import json, subprocess, sys, time
    import numpy as np
    import minigrad as mg
    from minigrad.backend import cpu
    from minigrad.kernels.cpu import gemm
    a = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(int(sys.argv[1]))]
    def teams(seconds):
        seen, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            cpu.matmul(a, a)
            seen.append(gemm.last_team_size())
        return seen
    try:
        time.sleep(0.3)
        default = teams(1.0)[-10:]  # after the first windows of the load measurement
        now = gemm.threads_now()
        mg.set_num_threads(2)
        explicit = teams(0.2)[-10:]
    finally:
        for p in spinners:
            p.kill()
    print(json.dumps({"default": default, "now": now, "explicit": explicit}))
""")


def _with_other_cores_busy(script):
    """(stdout, cores) of `script` run in a child with OpenMP's default settings, given the
    number of spinning processes that keep all cores but one busy; skips where that can't be
    arranged."""
    modules = _compiled_modules()
    if not all(m.has_openmp() for m in modules):
        pytest.skip("kernels built without OpenMP: every kernel runs serially")
    cores = os.cpu_count() or 1
    if not sys.platform.startswith("linux") or not 2 <= cores <= 8:
        pytest.skip(f"needs Linux (/proc/stat) and 2 to 8 cores to keep busy, not {cores}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    proc = subprocess.run([sys.executable, "-c", script, str(cores - 1)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, cores


def test_default_threads_give_way_to_busy_cores():
    """With OpenMP's default thread count, a kernel asks only for the cores that other
    processes leave free (threads.h); an explicit mg.set_num_threads is obeyed as set."""
    import json

    stdout, _ = _with_other_cores_busy(BUSY_TEAMS)
    seen = json.loads(stdout.splitlines()[-1])
    assert seen["now"] == 1 and set(seen["default"]) == {1}, seen
    assert set(seen["explicit"]) == {2}, seen


def _ops(rng, dtype):
    """(name, thunk) for every compiled kernel family on shapes that take the threaded paths."""
    def rand(*shape):
        return rng.standard_normal(shape).astype(dtype)

    a, b = rand(600, 300), rand(300, 500)       # M split
    c, d = rand(16, 300), rand(300, 4000)       # N split
    e, f = rand(64, 32, 32), rand(64, 32, 32)   # batch loop
    x1, w1 = rand(8, 1, 28, 28), rand(8, 1, 3, 3)        # per-image conv layout
    x2, w2 = rand(8, 32, 13, 13), rand(64, 32, 3, 3)     # whole-batch conv layout
    s, p = (1, 1), (1, 1)
    gy1 = rand(*reference.conv2d_forward(x1, w1, None, s, p).shape)
    gy2 = rand(*reference.conv2d_forward(x2, w2, None, s, p).shape)
    xp = rand(8, 16, 28, 28)
    win = ((3, 3), (2, 2), (1, 1))
    gyp = rand(*reference.avg_pool2d_forward(xp, *win).shape)
    argmax = reference.max_pool2d_forward(xp, *win)[1]
    k1, k2 = rand(16, 65536), rand(65536, 16)  # K split
    return [
        ("matmul M split", lambda: cpu.matmul(a, b)),
        ("matmul N split", lambda: cpu.matmul(c, d)),
        ("batched matmul", lambda: cpu.matmul(e, f)),
        ("conv fwd per-image", lambda: cpu.conv2d_forward(x1, w1, w1[:, 0, 0, 0], s, p)),
        ("conv dx per-image", lambda: cpu.conv2d_grad_input(gy1, w1, x1.shape, s, p)),
        ("conv fwd whole-batch", lambda: cpu.conv2d_forward(x2, w2, w2[:, 0, 0, 0], s, p)),
        ("conv dx whole-batch", lambda: cpu.conv2d_grad_input(gy2, w2, x2.shape, s, p)),
        ("max_pool fwd", lambda: cpu.max_pool2d_forward(xp, *win)),
        ("max_pool bwd", lambda: cpu.max_pool2d_backward(gyp, argmax, xp.shape, *win)),
        ("avg_pool fwd", lambda: cpu.avg_pool2d_forward(xp, *win)),
        ("avg_pool bwd", lambda: cpu.avg_pool2d_backward(gyp, xp.shape, *win)),
    ], [
        # These split a sum (the GEMM's K, or the conv weight gradient's N*OH*OW) between
        # threads, so the rounding differs with the thread count, as in any BLAS.
        ("matmul K split", lambda: cpu.matmul(k1, k2)),
        ("conv dw per-image", lambda: cpu.conv2d_grad_weight(x1, gy1, w1.shape, s, p)),
        ("conv dw whole-batch", lambda: cpu.conv2d_grad_weight(x2, gy2, w2.shape, s, p)),
    ]


def _run_all(ops):
    out = {}
    for name, thunk in ops:
        result = thunk()
        out[name] = [np.array(r) for r in (result if isinstance(result, tuple) else (result,))]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_and_two_threads_give_the_same_results(dtype):
    exact, summed = _ops(np.random.default_rng(0), dtype)
    results = {}
    for n in (1, 2):
        mg.set_num_threads(n)
        results[n] = (_run_all(exact), _run_all(summed))
    for name in results[1][0]:
        for got, want in zip(results[2][0][name], results[1][0][name]):
            np.testing.assert_array_equal(got, want, err_msg=name)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    for name in results[1][1]:
        for got, want in zip(results[2][1][name], results[1][1][name]):
            scale = max(1.0, float(np.abs(want).max()))
            assert float(np.abs(got - want).max()) <= rtol * scale, name


def _run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def test_train_threads_flag_sets_the_kernels_threads(monkeypatch):
    seen = []
    original = training.train_epoch

    def spy(*args, **kwargs):
        seen.append((mg.get_num_threads(), threads.kernel_num_threads()))
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "train_epoch", spy)
    mg.set_num_threads(3)
    code, _, err = _run_cli(["train", "--model", "mlp", "--epochs", "2", "--threads", "1"])
    assert code == 0, err
    assert "device cpu (1 thread)" in err
    assert len(seen) == 2
    assert all(n == 1 and all(v == 1 for v in per_module.values()) for n, per_module in seen)
    assert mg.get_num_threads() == 3  # put back after the run


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_train_threads_flag_refuses_bad_values(value):
    code, out, err = _run_cli(["train", "--threads", value])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minigrad train: error: argument --threads")


def test_train_gives_the_same_model_with_1_and_2_threads(tmp_path):
    weights = []
    for n in (1, 2):
        path = tmp_path / f"t{n}.mgz"
        code, out, err = _run_cli(["train", "--model", "cnn", "--epochs", "1", "--threads", str(n),
                                   "--save", str(path)])
        assert code == 0, err
        weights.append((out, mg.load(path)["model"]))
    assert weights[0][0] == weights[1][0]  # the same accuracy line
    for key, value in weights[0][1].items():
        np.testing.assert_allclose(weights[1][1][key].numpy(), value.numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=key)


@pytest.mark.parametrize("threads_, load, cores, warns", [
    (1, 50.0, 2, False),   # one thread: nothing to gain from fewer
    (2, 0.1, 2, False),    # idle machine
    (2, 1.0, 2, True),     # one core taken by another process
    (2, 3.0, 2, True),
    (4, 3.0, 8, False),    # enough idle cores
    (8, 1.0, 8, True),
])
def test_busy_machine_warning(threads_, load, cores, warns):
    message = training.busy_machine_warning(threads_, load=load, cores=cores)
    assert (message is not None) == warns
    if warns:
        assert "--threads 1" in message and f"{load:.1f}" in message


def test_train_warns_when_busy(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (7.5, 7.5, 7.5))
    code, _, err = _run_cli(["train", "--model", "mlp", "--epochs", "1", "--threads", "2"])
    assert code == 0, err
    assert "minigrad train: warning: the machine is busy (load average 7.5" in err
    assert "try --threads 1" in err
    monkeypatch.setattr(os, "getloadavg", lambda: (7.5, 7.5, 7.5))
    code, _, err = _run_cli(["train", "--model", "mlp", "--epochs", "1", "--threads", "1"])
    assert code == 0 and "warning" not in err


# A child: kernels run, then the process waits while other processes spin, then a kernel
# runs again: what others did while this process ran no kernel is not held against it.
IDLE_WHILE_OTHERS_RUN = textwrap.dedent("""
    import subprocess, sys, time
    import numpy as np
    from minigrad.backend import cpu
    from minigrad.kernels.cpu import gemm
    a = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        cpu.matmul(a, a)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(int(sys.argv[1]))]
    time.sleep(0.8)  # idle here: a benchmark's other process runs
    for p in spinners:
        p.kill()
    for p in spinners:
        p.wait()
    cpu.matmul(a, a)
    print(gemm.threads_now(), gemm.last_team_size())
""")


def test_a_load_seen_only_while_idle_does_not_cut_the_threads():
    stdout, cores = _with_other_cores_busy(IDLE_WHILE_OTHERS_RUN)
    now, team = map(int, stdout.split())
    assert now == cores and team == cores, stdout


def test_train_does_not_warn_when_the_kernels_adapt(monkeypatch):
    """Without a thread count the kernels leave busy cores alone, so no --threads 1 advice."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if not threads.adapts_to_load():
        pytest.skip("no OpenMP kernels: nothing adapts, nothing to warn about")
    monkeypatch.setattr(os, "getloadavg", lambda: (7.5, 7.5, 7.5))
    code, _, err = _run_cli(["train", "--model", "mlp", "--epochs", "1"])
    assert code == 0 and "warning" not in err, err
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # an explicit count is warned about
    assert not threads.adapts_to_load()
