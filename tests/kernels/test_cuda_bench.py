"""`minigrad bench --device cuda` without a GPU: a clear refusal when there is no CUDA device,
and a smoke run of the whole GPU benchmark code on the emulated device (MINIGRAD_FAKE_CUDA=1,
toy sizes, wall clock: it proves the code runs, it measures nothing)."""

import json
import os
import subprocess
import sys

import pytest


def _run(args, **env):
    return subprocess.run([sys.executable, "-m", "minigrad", "bench", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=600)


def test_without_a_gpu_the_refusal_names_the_cupy_wheel():
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    proc = _run(["--device", "cuda"], MINIGRAD_FAKE_CUDA="")
    assert proc.returncode == 2
    assert "cuda is not available" in proc.stderr and "cupy-cuda13x" in proc.stderr


def test_bad_device_is_a_clear_error():
    proc = _run(["--device", "tpu"])
    assert proc.returncode == 2 and "unknown device" in proc.stderr


def test_smoke_run_on_the_emulated_device(tmp_path):
    code = ("from minigrad.bench import gpu; import json, sys; "
            "r = gpu.run_gpu_benchmarks('smoke'); print(gpu.format_gpu_report(r)); "
            f"json.dump(r, open({str(tmp_path / 'r.json')!r}, 'w'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MINIGRAD_FAKE_CUDA": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["machine"]["emulated"] is True
    groups = {r["group"] for r in report["rows"] if r["median_s"] is not None}
    assert groups == {"gemm", "conv", "pool", "train"}, report["rows"]
    assert not [r for r in report["rows"] if r["note"].startswith("FAILED")]
    assert "GEMM vs cuBLAS at 4096^3" in proc.stdout
