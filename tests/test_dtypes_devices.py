"""Type promotion against PyTorch's table, dtype handling in autograd, and the device story
on a machine without CUDA (clear RuntimeErrors, backend_info)."""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg

DTYPES = ["bool", "int64", "float32", "float64"]
SCALARS = [True, 3, 2.5]


def _mg(kind, dtype):
    values = [True, True] if dtype == "bool" else [1, 2]
    if kind == "0d":
        return mg.tensor(np.array(values[0], dtype=dtype))
    return mg.tensor(np.array(values, dtype=dtype))


def _torch(torch, kind, dtype):
    values = [True, True] if dtype == "bool" else [1, 2]
    tdtype = getattr(torch, dtype)
    if kind == "0d":
        return torch.tensor(values[0], dtype=tdtype)
    return torch.tensor(values, dtype=tdtype)


def _name(dtype):
    return str(dtype).replace("torch.", "")


@pytest.mark.parametrize("op", ["add", "mul", "div", "maximum", "where"])
def test_tensor_tensor_promotion_matches_torch(op):
    torch = pytest.importorskip("torch")
    combos = itertools.product(["1d", "0d"], DTYPES, ["1d", "0d"], DTYPES)
    for lk, ld, rk, rd in combos:
        a, b = _mg(lk, ld), _mg(rk, rd)
        at, bt = _torch(torch, lk, ld), _torch(torch, rk, rd)
        if op == "where":
            cond = mg.tensor([True, False])
            got, want = mg.where(cond, a, b), torch.where(torch.tensor([True, False]), at, bt)
        elif op == "div":
            got, want = a / b, at / bt
        else:
            got, want = getattr(mg, op)(a, b), getattr(torch, op)(at, bt)
        assert str(got.dtype) == _name(want.dtype), (op, lk, ld, rk, rd)


@pytest.mark.parametrize("op", ["add", "mul", "div"])
def test_tensor_scalar_promotion_matches_torch(op):
    torch = pytest.importorskip("torch")
    for kind, dtype, scalar in itertools.product(["1d", "0d"], DTYPES, SCALARS):
        a, at = _mg(kind, dtype), _torch(torch, kind, dtype)
        fn = {"add": lambda x, s: x + s, "mul": lambda x, s: x * s, "div": lambda x, s: x / s}[op]
        rfn = {"add": lambda x, s: s + x, "mul": lambda x, s: s * x, "div": lambda x, s: s / x}[op]
        for f in (fn, rfn):
            got, want = f(a, scalar), f(at, scalar)
            assert str(got.dtype) == _name(want.dtype), (op, kind, dtype, scalar)
            np.testing.assert_allclose(got.numpy().astype(np.float64),
                                       want.numpy().astype(np.float64), rtol=1e-6)


def test_promotion_examples_from_api():
    f32 = mg.tensor([1.0, 2.0])
    assert (f32 * 2.5).dtype == mg.float32
    assert (mg.arange(3) * 2.5).dtype == mg.float32
    assert (mg.arange(3) * 2).dtype == mg.int64
    assert (mg.arange(3) / 2).dtype == mg.float32  # true division of ints is float
    assert (f32 + mg.tensor(1.0, dtype=mg.float64)).dtype == mg.float32  # 0-d doesn't promote up
    assert (f32 + mg.tensor([1.0], dtype=mg.float64)).dtype == mg.float64


def test_gradient_flows_back_in_each_input_dtype():
    a = mg.tensor([1.0, 2.0], dtype=mg.float32, requires_grad=True)
    b = mg.tensor([3.0, 4.0], dtype=mg.float64, requires_grad=True)
    y = a * b
    assert y.dtype == mg.float64
    y.sum().backward()
    assert a.grad.dtype == mg.float32 and b.grad.dtype == mg.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 2.0])


def test_float_times_int_tensor_gives_grad_only_to_float():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    idx = mg.tensor([3, 4])
    (w * idx).sum().backward()
    assert w.grad.tolist() == [3.0, 4.0]
    assert idx.grad is None and not idx.requires_grad


def test_dtype_objects_are_numpy_dtypes():
    assert mg.float32 == np.float32 and mg.float64 == np.dtype("float64")
    assert mg.int64 == np.int64 and mg.bool == np.bool_
    assert mg.float is mg.float32 and mg.double is mg.float64 and mg.long is mg.int64
    assert mg.zeros(2, dtype=np.float64).dtype == mg.float64
    assert mg.zeros(2, dtype="float64").dtype == mg.float64


# ---------------------------------------------------------------------------- devices


def test_cuda_unavailable_here_and_says_why():
    if mg.cuda.is_available():
        pytest.skip("this machine has a usable GPU")
    assert mg.cuda.device_count() == 0
    x = mg.ones(2)
    for attempt in (lambda: x.to("cuda"), lambda: x.cuda(), lambda: x.to("cuda:0"),
                    lambda: mg.zeros(2, device="cuda"), lambda: mg.tensor([1.0], device="cuda"),
                    lambda: mg.randn(2, device="cuda:0")):
        with pytest.raises(RuntimeError) as info:
            attempt()
        message = str(info.value)
        assert "cuda" in message.lower() and "not available" in message
        assert "CuPy" in message or "device" in message  # the reason, not just "no"
    assert x.device == "cpu"


def test_cuda_probe_reports_missing_cupy_or_gpu():
    usable, reason, count = mg.cuda._probe()
    assert usable == mg.cuda.is_available() and count == mg.cuda.device_count()
    if not usable:
        assert reason  # a human-readable reason


def test_backend_info_structure():
    info = mg.backend_info()
    assert set(info) >= {"cpu", "cuda"}
    expected_ops = {"matmul", "conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight",
                    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
                    "avg_pool2d_backward"}
    assert set(info["cpu"]) == expected_ops
    assert all(v in ("cython", "reference") for v in info["cpu"].values())
    if mg.cuda.is_available():
        assert isinstance(info["cuda"], dict) and set(info["cuda"]) == expected_ops
        assert info["cuda_device"].startswith("emulated") == mg.cuda.is_emulated()
    else:
        assert isinstance(info["cuda"], str) and info["cuda"].startswith("unavailable")


def test_mixing_devices_raises_runtime_error():
    # Simulate a second device without a GPU: a tensor whose Device says cuda:0.
    x = mg.ones(2)
    y = mg.ones(2)
    y._device = mg.Device("cuda:0")
    with pytest.raises(RuntimeError, match="same device"):
        x + y


def test_cupy_install_hint_names_the_real_packages():
    """minigrad on the public index is an unrelated project: never suggest minigrad[cuda]."""
    hint = mg.cuda.INSTALL_HINT
    assert "cupy-cuda12x" in hint and "cupy-cuda13x" in hint and "minigrad[" not in hint
    usable, reason, _ = mg.cuda._probe()
    if not usable and "CuPy is not installed" in reason:
        assert hint in reason


def test_fake_cuda_env_makes_an_emulated_cuda_device():
    code = (
        "import numpy as np, minigrad as mg\n"
        "info = mg.backend_info()\n"
        "print(mg.cuda.is_available(), mg.cuda.device_count(), mg.cuda.is_emulated())\n"
        "print(info['cuda_device'].split(':')[0], sorted(info['cuda']) == sorted(info['cpu']))\n"
        "x = mg.ones(3, device='cuda') * 2\n"
        "print(x.device, type(x._data).__module__, x.cpu().numpy().tolist())\n"
        "try:\n"
        "    np.asarray(x._data)\n"
        "except TypeError as e:\n"
        "    print('refused:', e)\n"
    )
    env = {**os.environ, "MINIGRAD_FAKE_CUDA": "1"}
    env.pop("MINIGRAD_REQUIRE_GPU", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "True 1 True"
    assert lines[1] == "emulated True"
    assert lines[2] == "cuda:0 minigrad.backend.fake_cupy [2.0, 2.0, 2.0]"
    assert lines[3].startswith("refused: Implicit conversion to a NumPy array is not allowed")
