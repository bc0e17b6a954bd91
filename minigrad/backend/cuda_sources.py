"""What minigrad's CUDA kernels are: the .cu files, the compile options and the template
instantiations (name expressions). One table, read by every consumer so that nothing is
retyped: the CuPy runtime (RawModule), the host emulation build, and the NVRTC/nvcc compile
check in tests/kernels/test_cuda_compile.py.

Each module's source is kernels/cuda/common.cuh followed by the module's .cu file (NVRTC gets
no include path of ours), with #line markers so compiler messages name the right file.
"""

from pathlib import Path

import numpy as np

# Installed as minigrad/kernels/cuda (pyproject maps the package minigrad.kernels to kernels/).
KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernels" / "cuda"
if not KERNEL_DIR.is_dir():  # editable install: minigrad.kernels is the top-level kernels/
    KERNEL_DIR = Path(__file__).resolve().parents[2] / "kernels" / "cuda"

COMMON_HEADER = "common.cuh"
EMULATION_HEADER = "emulation.h"

# Passed to cupy.RawModule as is. No -arch: CuPy picks the current device's (PITFALLS 3.1).
COMPILE_OPTIONS = ("-std=c++17",)

C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# GEMM tile shapes per element type: (BM, BN, BK, TM, TN); a block has (BM/TM)*(BN/TN) = 256
# threads. double's large tile is narrower: 8x8 doubles per thread needs more than the 255
# registers a thread may have, and spills (the compile check refuses spills).
GEMM_TILES = {
    "float": {"large": (128, 128, 8, 8, 8), "small": (64, 64, 8, 4, 4)},
    "double": {"large": (128, 64, 8, 8, 4), "small": (64, 64, 8, 4, 4)},
}
GEMM_CONFIGS = ("large", "small")


def gemm_tile(config, dtype):
    """(BM, BN, BK, TM, TN) of a GEMM configuration for dtype."""
    return GEMM_TILES[C_TYPES[np.dtype(dtype)]][config]


def gemm_template(config):
    """The GEMM kernel template for one tile configuration ({T} and the tile filled in later)."""
    return "mg_gemm<{T},{" + config + "}>"


# module -> (file, kernel templates; {T} is the element type)
MODULES = {
    "gemm": ("gemm.cu", tuple(gemm_template(config) for config in GEMM_CONFIGS)),
    "conv": ("conv.cu", ("mg_im2col<{T}>", "mg_col2im<{T}>", "mg_swap01<{T}>")),
    "pool": ("pool.cu", ("mg_max_pool_forward<{T}>", "mg_max_pool_check_argmax<{T}>",
                         "mg_max_pool_backward<{T}>", "mg_avg_pool_forward<{T}>",
                         "mg_avg_pool_backward<{T}>")),
}


def kernel_name(template, dtype):
    """The name expression of one instantiation, e.g. ("mg_im2col<{T}>", float32) ->
    "mg_im2col<float>", ("mg_gemm<{T},{small}>", float64) -> "mg_gemm<double,64,64,8,4,4>"."""
    ctype = C_TYPES[np.dtype(dtype)]
    tiles = {name: ",".join(map(str, tile)) for name, tile in GEMM_TILES[ctype].items()}
    return template.format(T=ctype, **tiles)


def name_expressions(module):
    """Every instantiation of a module's kernels, for every dtype."""
    return [kernel_name(t, dt) for dt in C_TYPES for t in MODULES[module][1]]


def module_source(module):
    """The complete source handed to NVRTC for one module."""
    parts = []
    for name in (COMMON_HEADER, MODULES[module][0]):
        path = KERNEL_DIR / name
        parts.append(f'#line 1 "{name}"\n{path.read_text()}')
    return "\n".join(parts)


def source_files():
    """Every file the kernels are built from (for cache keys and the package data check)."""
    names = [COMMON_HEADER, EMULATION_HEADER] + [file for file, _ in MODULES.values()]
    return [KERNEL_DIR / name for name in names]
