"""A minimal ctypes binding to NVRTC (the compiler CuPy uses at run time), for compiling the
CUDA kernels on a machine without a GPU. libnvrtc comes from the `nvidia-cuda-nvrtc` wheel
(`pip install nvidia-cuda-nvrtc==13.0.88`) or a CUDA toolkit; its companion
libnvrtc-builtins is loaded first from the same directory (libnvrtc opens it by name,
PITFALLS 3.3)."""

import ctypes
import glob
import os
import sys
from pathlib import Path


def _candidate_dirs():
    for entry in sys.path:
        yield from glob.glob(os.path.join(entry, "nvidia", "cu*", "lib"))
        yield from glob.glob(os.path.join(entry, "nvidia", "cuda_nvrtc", "lib"))
    yield from ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib")


def find_library():
    """Path of libnvrtc.so.*, or None."""
    for directory in _candidate_dirs():
        found = sorted(p for p in glob.glob(os.path.join(directory, "libnvrtc.so*"))
                       if ".alt." not in p)
        if found:
            return found[-1]
    return None


class CompileResult:
    def __init__(self, ok, log, lowered, cubin_size):
        self.ok, self.log, self.lowered, self.cubin_size = ok, log, lowered, cubin_size


class NVRTC:
    def __init__(self, path):
        directory = Path(path).parent
        for builtins in sorted(directory.glob("libnvrtc-builtins.so*")):
            if ".alt." not in builtins.name:
                ctypes.CDLL(str(builtins), mode=ctypes.RTLD_GLOBAL)
        self.lib = ctypes.CDLL(path)
        self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)))
        self.version = (major.value, minor.value)

    def _check(self, status):
        if status != 0:
            raise RuntimeError(f"NVRTC: {self.lib.nvrtcGetErrorString(status).decode()}")

    def compile(self, source, name, options, name_expressions):
        lib = self.lib
        prog = ctypes.c_void_p()
        self._check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(),
                                           0, None, None))
        try:
            for expr in name_expressions:
                self._check(lib.nvrtcAddNameExpression(prog, expr.encode()))
            opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
            status = lib.nvrtcCompileProgram(prog, len(options), opts)
            size = ctypes.c_size_t()
            self._check(lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size)))
            log = ctypes.create_string_buffer(size.value)
            self._check(lib.nvrtcGetProgramLog(prog, log))
            log = log.value.decode(errors="replace")
            if status != 0:
                return CompileResult(False, log, {}, 0)
            lowered = {}
            for expr in name_expressions:
                out = ctypes.c_char_p()
                self._check(lib.nvrtcGetLoweredName(prog, expr.encode(), ctypes.byref(out)))
                lowered[expr] = out.value.decode()
            cubin = ctypes.c_size_t()
            self._check(lib.nvrtcGetCUBINSize(prog, ctypes.byref(cubin)))
            return CompileResult(True, log, lowered, cubin.value)
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))
