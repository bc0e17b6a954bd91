"""The `minigrad` command line run as a user runs it (subprocesses): one-line errors,
Ctrl-C, paths checked before long work (issue 8 item 8)."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def minigrad(*argv, timeout=120):
    return subprocess.run([sys.executable, "-m", "minigrad", *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)


def assert_one_line_error(proc, command, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"minigrad {command}: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("command", ["train", "gradcheck"])
def test_unknown_device_is_one_line(command):
    assert_one_line_error(minigrad(command, "--device", "tpu"), command, "unknown device 'tpu'")


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_bench_output_path_is_checked_before_the_run(tmp_path, option):
    start = time.perf_counter()
    proc = minigrad("bench", "--quick", option, str(tmp_path / "missing" / "out"))
    assert_one_line_error(proc, "bench", f"{option} ", "does not exist")
    assert time.perf_counter() - start < 30  # no benchmark ran first
    assert_one_line_error(minigrad("bench", option, str(tmp_path)), "bench", "is a folder")


def test_bad_option_value_is_one_line():
    assert_one_line_error(minigrad("train", "--epochs", "many"), "train", "invalid int value")


def _as_a_foreground_job():
    """SIGINT as a terminal's foreground job has it. A job started in the background of a
    shell without job control (`cmd &` in a script, as some CI runners do) inherits SIGINT
    ignored, and Python then keeps it ignored: Ctrl-C could never reach the command."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_after(argv, ready, grace=0.5):
    """Start `minigrad ARGV` in its own process group, wait until its stderr shows `ready`,
    then press Ctrl-C (SIGINT to the whole group, as a terminal does)."""
    child = subprocess.Popen([sys.executable, "-m", "minigrad", *argv], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, preexec_fn=_as_a_foreground_job)
    seen = b""
    try:
        deadline = time.monotonic() + 120
        while ready.encode() not in seen and time.monotonic() < deadline:
            chunk = os.read(child.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
        assert ready.encode() in seen, seen
        time.sleep(grace)
        os.killpg(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return child.returncode, (seen + err).decode()


@pytest.mark.parametrize("argv, ready", [
    (["train", "--epochs", "200"], "epoch   1/"),  # the first bar: training has started
    (["bench", "--quick"], "gemm 512"),
])
def test_ctrl_c_is_one_line_and_exit_130(argv, ready):
    code, err = interrupt_after(argv, ready)
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert lines[-1] == f"minigrad {argv[0]}: interrupted", err
    assert err.count("interrupted") == 1, err
