#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: installs minigrad with the CuPy extra from this
# checkout, runs the GPU tests (skips become failures) and the GPU benchmarks, prints the table.
#   bash benchmarks/gpu.sh            # CUDA 13 driver (cupy-cuda13x); keeps a CuPy already there
#   MINIGRAD_CUDA_EXTRA=cuda12 bash benchmarks/gpu.sh   # CUDA 12 driver (cupy-cuda12x)
#   QUICK=1 bash benchmarks/gpu.sh    # GEMM up to 4096^3 and fewer repeats
# torch, when installed with CUDA, is the cuDNN / training-step baseline (never installed here).
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${MINIGRAD_CUDA_EXTRA:-cuda13}
if python -c "import cupy" 2>/dev/null; then
    pip install -q -e ".[test]"            # the image's CuPy stays (no second CuPy wheel)
else
    pip install -q -e ".[test,$extra]"     # extras of this checkout, never `minigrad` from PyPI
fi
python -c "import cupy; print('CuPy', cupy.__version__, 'devices:', cupy.cuda.runtime.getDeviceCount())"

export MINIGRAD_REQUIRE_GPU=1 MINIGRAD_REQUIRE_EXT=1 CUPY_TF32=0
export CUPY_DUMP_CUDA_SOURCE_ON_ERROR=1
export CUPY_CACHE_DIR="${CUPY_CACHE_DIR:-$PWD/.cupy-cache}"
unset MINIGRAD_FAKE_CUDA

# The kernel tests on the GPU, then the device-parametrised suite (its "cuda" cases run on the GPU).
pytest -q tests/kernels/test_cuda_gpu.py
pytest -q -x tests

out=benchmarks/gpu-results.json
if [ "${QUICK:-0}" = 1 ]; then
    python -m minigrad bench --device cuda --quick --json "$out"
else
    python -m minigrad bench --device cuda --json "$out"
fi
