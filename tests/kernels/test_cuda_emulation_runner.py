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


# The scheduler of emulation.h itself, on small kernels of its own: the block's threads are
# fibers that run one after the other between barriers, in an order that alternates.
SCHEDULER_KERNELS = r"""
#include "emulation.h"
#include "common.cuh"

// Each block reverses its 64 elements through shared memory.
template <bool SYNC>
__global__ void reverse64(const float* in, float* out) {
    __shared__ float tile[64];
    const i64 base = (i64)blockIdx.x * 64;
    tile[threadIdx.x] = in[base + threadIdx.x];
    if (SYNC) __syncthreads();
    out[base + threadIdx.x] = tile[63 - threadIdx.x];
}

// Only the first 16 threads reach the barrier.
__global__ void divergent_barrier(float* out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1.0f;
}

// A 3-D block: every thread writes its own flat index, after two barriers.
__global__ void thread_ids(long long* out) {
    __syncthreads();
    const i64 t = threadIdx.x + (i64)blockDim.x * (threadIdx.y + (i64)blockDim.y * threadIdx.z);
    __syncthreads();
    out[(i64)blockIdx.x * blockDim.x * blockDim.y * blockDim.z + t] = t;
}

static const mg_emu::Entry mg_emu_entries[] = {
    MG_EMU_ENTRY("reverse64<true>", reverse64<true>),
    MG_EMU_ENTRY("reverse64<false>", reverse64<false>),
    MG_EMU_ENTRY("divergent_barrier", divergent_barrier),
    MG_EMU_ENTRY("thread_ids", thread_ids),
};
MG_EMU_DEFINE_C_API
"""


@pytest.fixture(scope="module")
def scheduler_lib(tmp_path_factory):
    import ctypes
    import subprocess

    tmp = tmp_path_factory.mktemp("scheduler")
    (tmp / "kernels.cpp").write_text(SCHEDULER_KERNELS)
    out = tmp / "kernels.so"
    subprocess.run([cuda_runners.CXX, *cuda_runners.CXXFLAGS, "-I", str(cuda_sources.KERNEL_DIR),
                    str(tmp / "kernels.cpp"), "-o", str(out)], check=True)
    lib = ctypes.CDLL(str(out))
    lib.mg_emu_error.restype = lib.mg_emu_name.restype = ctypes.c_char_p
    lib.mg_emu_launch.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint),
                                  ctypes.POINTER(ctypes.c_void_p)]
    names = [lib.mg_emu_name(i).decode() for i in range(lib.mg_emu_count())]

    def launch(name, grid, block, *arrays):
        dims = (ctypes.c_uint * 6)(*grid, *block)
        values = [ctypes.c_void_p(a.ctypes.data) for a in arrays]
        args = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
        status = lib.mg_emu_launch(names.index(name), dims, args)
        return lib.mg_emu_error().decode() if status else None

    return launch


def test_a_barrier_orders_shared_memory(scheduler_lib):
    x = np.arange(128, dtype=np.float32)
    out = np.zeros(128, np.float32)
    assert scheduler_lib("reverse64<true>", (2, 1, 1), (64, 1, 1), x, out) is None
    np.testing.assert_array_equal(out, np.concatenate([x[:64][::-1], x[64:][::-1]]))


def test_a_missing_barrier_gives_a_wrong_result(scheduler_lib):
    """Without the __syncthreads, a thread reads a tile entry another thread has not written
    yet in at least one of the two blocks (they run their threads in opposite orders)."""
    x = np.arange(128, dtype=np.float32) + 1000
    out = np.zeros(128, np.float32)
    assert scheduler_lib("reverse64<false>", (2, 1, 1), (64, 1, 1), x, out) is None
    expected = np.concatenate([x[:64][::-1], x[64:][::-1]])
    assert not np.array_equal(out, expected)


def test_a_barrier_only_some_threads_reach_is_reported(scheduler_lib):
    out = np.zeros(64, np.float32)
    error = scheduler_lib("divergent_barrier", (1, 1, 1), (64, 1, 1), out)
    assert error is not None and "__syncthreads() reached by 16 of the 64 threads" in error


def test_every_thread_of_a_3d_block_runs_once_per_block(scheduler_lib):
    out = np.full(3 * 4 * 3 * 2, -1, np.int64)
    assert scheduler_lib("thread_ids", (3, 1, 1), (4, 3, 2), out) is None
    np.testing.assert_array_equal(out, np.tile(np.arange(24), 3))


def test_a_failed_launch_raises_through_the_runner(runner, monkeypatch):
    """The runner turns the library's error status into a RuntimeError naming the kernel."""
    class FailingLib:
        def __getattr__(self, name):
            return getattr(runner._library(), name)

        def mg_emu_launch(self, *args):
            return -1

        def mg_emu_error(self):
            return b"planted failure"

    monkeypatch.setattr(runner, "_library", lambda: FailingLib())
    a = np.zeros(4, np.float32)
    with pytest.raises(RuntimeError, match=r"mg_swap01<float>: planted failure"):
        runner.launch("conv", "mg_swap01<float>", (1,), (32,), swap01_args(a, a, 1, 1, 4))
