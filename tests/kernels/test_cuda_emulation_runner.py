"""The emulated runner itself: it passes arguments the way CuPy does and is strict where CuPy
is silent, so that launcher bugs show on a machine without a GPU. Each test makes a bad launch
on purpose and expects the runner to catch it."""

import shutil

import numpy as np
import pytest

from minigrad.backend import cuda, cuda_runners, cuda_sources

pytestmark = pytest.mark.skipif(shutil.which(cuda_runners.CXX) is None,
                                reason="the CUDA emulation needs a C++20 compiler")


@pytest.fixture(scope="module")
def runner():
    return cuda.emulated_runner()


def swap01_args(src, dst, A, B, R):
    return (src, dst, np.int64(A), np.int64(B), np.int64(R))


def test_signature_comes_from_the_compiled_kernel(runner):
    assert runner.signature("mg_swap01<float>") == ["Cf", "Pf", "q", "q", "q"]
    assert runner.signature("mg_max_pool_forward<double>")[:3] == ["Cd", "Pd", "Pq"]


def test_every_name_expression_is_in_the_library(runner):
    for module in cuda_sources.MODULES:
        for name in cuda_sources.name_expressions(module):
            assert runner.signature(name)


def test_a_correct_launch_runs(runner):
    src = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    dst = np.empty((3, 2, 4), np.float32)
    runner.launch("conv", "mg_swap01<float>", (1,), (32,), swap01_args(src, dst, 2, 3, 4),
                  fills=(1,))
    np.testing.assert_array_equal(dst, src.swapaxes(0, 1))


def test_python_int_is_refused(runner):
    src, dst = np.zeros(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="argument 2 is a Python int"):
        runner.launch("conv", "mg_swap01<float>", (1,), (32,), (src, dst, 1, np.int64(1), np.int64(4)))


def test_wrong_scalar_width_is_refused(runner):
    src, dst = np.zeros(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="argument 3 is int32 but the parameter is long long"):
        runner.launch("conv", "mg_swap01<float>", (1,), (32,),
                      (src, dst, np.int64(1), np.int32(1), np.int64(4)))


def test_wrong_array_dtype_is_refused(runner):
    src, dst = np.zeros(4, np.float64), np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="argument 0 is a float64 array but the parameter is const float"):
        runner.launch("conv", "mg_swap01<float>", (1,), (32,), swap01_args(src, dst, 1, 1, 4))


def test_wrong_argument_count_is_refused(runner):
    src = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="4 arguments for 5 parameters"):
        runner.launch("conv", "mg_swap01<float>", (1,), (32,), (src, src, np.int64(1), np.int64(1)))


def test_non_contiguous_array_is_refused(runner):
    src = np.zeros((4, 4), np.float32)[:, ::2]
    with pytest.raises(ValueError, match="not C-contiguous"):
        runner.launch("conv", "mg_swap01<float>", (1,), (32,),
                      swap01_args(src, np.zeros(8, np.float32), 1, 1, 8))


def test_write_past_the_end_is_caught(runner):
    src = np.zeros(8, np.float32)
    dst = np.zeros(4, np.float32)  # the kernel is told it has 8 elements
    with pytest.raises(RuntimeError, match="wrote outside"):
        runner.launch("conv", "mg_swap01<float>", (1,), (32,), swap01_args(src, dst, 1, 1, 8))


def test_unwritten_output_shows_as_nan(runner):
    src = np.ones(8, np.float32)
    dst = np.zeros(8, np.float32)
    runner.launch("conv", "mg_swap01<float>", (1,), (32,), swap01_args(src, dst, 1, 1, 5),
                  fills=(1,))
    assert np.all(dst[:5] == 1) and np.all(np.isnan(dst[5:]))


def test_aliasing_is_preserved(runner):
    """An array passed twice is one buffer in the launch, as on the GPU."""
    a = np.arange(8, dtype=np.float32)
    runner.launch("conv", "mg_swap01<float>", (1,), (32,), swap01_args(a, a, 1, 1, 8))
    np.testing.assert_array_equal(a, np.arange(8, dtype=np.float32))


def test_bad_launch_configuration_is_refused(runner):
    a = np.zeros(4, np.float32)
    with pytest.raises(RuntimeError, match="bad launch configuration"):
        runner.launch("conv", "mg_swap01<float>", (0,), (32,), swap01_args(a, a, 1, 1, 4))
    with pytest.raises(RuntimeError, match="bad launch configuration"):
        runner.launch("conv", "mg_swap01<float>", (1,), (2048,), swap01_args(a, a, 1, 1, 4))


def test_library_is_cached_by_source_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGRAD_CACHE_DIR", str(tmp_path))
    first = cuda_runners.build_library()
    assert first.parent == tmp_path / "cuda-emulation" and first.exists()
    mtime = first.stat().st_mtime_ns
    assert cuda_runners.build_library() == first and first.stat().st_mtime_ns == mtime
