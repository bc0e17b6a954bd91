"""How a CUDA kernel launch is executed: on a GPU through CuPy, or on the CPU through the host
emulation of the same .cu source. backend/cuda.py computes every launch (kernel name, grid,
block, arguments) once and hands it to a runner; the two runners differ only in execution.

RawModuleRunner  cupy.RawModule per (module, device), compiled on first use and cached for the
                 process (CuPy also caches the binary on disk).
EmulatedRunner   kernels/cuda/*.cu compiled with g++ against kernels/cuda/emulation.h into one
                 shared library (cached on disk, keyed by a hash of the sources), called through
                 ctypes with CuPy's calling convention: a void** whose i-th entry points at the
                 i-th argument's value (a device pointer, an 8-byte long long, a 4-byte float...).

The emulated runner is stricter than CuPy, so that launcher bugs surface on a CPU-only machine:
  - each argument's type must match the kernel parameter's C type exactly (the parameter types
    come from the compiled kernel itself); a bare Python int/float is refused, because CuPy
    would pass it as long long/double whatever the parameter is;
  - array arguments are copied into buffers with guard bytes on both sides, at the same offset
    modulo 256 as the original (so vector-alignment paths match a GPU allocation); writes
    outside an array, or into a const (input) array, raise RuntimeError;
  - arguments listed in `fills` (outputs the kernel must overwrite completely) start as NaN
    bytes (0xFF), so an output element the kernel forgets to write shows up.
Arrays are numpy arrays or objects exposing their numpy buffer as `_host` (the fake CuPy device).
"""

import ctypes
import hashlib
import os
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from . import cuda_sources as sources


def host_buffer(a):
    """The numpy array behind an emulated device array (itself for a numpy array), else None."""
    if isinstance(a, np.ndarray):
        return a
    host = getattr(a, "_host", None)
    return host if isinstance(host, np.ndarray) else None


def is_emulated_array(a):
    return host_buffer(a) is not None


class RawModuleRunner:
    """Launches through cupy.RawModule on the arrays' device."""

    kind = "nvrtc"

    def __init__(self):
        self._modules = {}  # (module, device id) -> cupy.RawModule
        self._lock = threading.Lock()

    def function(self, module, name, device_id):
        import cupy

        key = (module, device_id)
        with self._lock:
            raw = self._modules.get(key)
            if raw is None:
                raw = cupy.RawModule(code=sources.module_source(module),
                                     options=sources.COMPILE_OPTIONS,
                                     name_expressions=sources.name_expressions(module))
                self._modules[key] = raw
        return raw.get_function(name)

    def launch(self, module, name, grid, block, args, *, device_id, shared_mem=0, fills=()):
        import cupy

        with cupy.cuda.Device(device_id):
            kernel = self.function(module, name, device_id)
            threads = int(np.prod(block))
            if threads > kernel.max_threads_per_block:
                raise RuntimeError(f"{name}: block of {threads} threads exceeds the kernel's limit "
                                   f"of {kernel.max_threads_per_block} on cuda:{device_id}")
            kernel(tuple(grid), tuple(block), tuple(args), shared_mem=shared_mem)


# numpy dtype of an array argument -> the pointee code of emulation.h's mg_emu::code<T>()
_POINTEE = {np.dtype(np.float32): "f", np.dtype(np.float64): "d", np.dtype(np.int64): "q",
            np.dtype(np.int32): "i", np.dtype(np.uint32): "I", np.dtype(np.bool_): "?"}
# numpy scalar type -> (code, ctypes type)
_SCALARS = {np.float32: ("f", ctypes.c_float), np.float64: ("d", ctypes.c_double),
            np.int64: ("q", ctypes.c_longlong), np.int32: ("i", ctypes.c_int),
            np.uint32: ("I", ctypes.c_uint), np.bool_: ("?", ctypes.c_bool)}
_C_NAMES = {"f": "float", "d": "double", "q": "long long", "i": "int", "I": "unsigned int",
            "?": "bool"}
_GUARD = 256  # bytes before and after every array argument


def _describe(code):
    if code[0] in "PC":
        return ("const " if code[0] == "C" else "") + _C_NAMES[code[1]] + "*"
    return _C_NAMES[code]


def cache_dir():
    """Where built emulation libraries are kept: $MINIGRAD_CACHE_DIR or ~/.cache/minigrad."""
    root = os.environ.get("MINIGRAD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "minigrad")
    return Path(root) / "cuda-emulation"


CXX = os.environ.get("CXX", "g++")
CXXFLAGS = ("-std=c++20", "-O2", "-fPIC", "-shared", "-pthread", "-fno-strict-aliasing",
            "-Wall", "-Wno-unknown-pragmas")


def registry_source():
    """The C++ translation unit of the emulation library: every .cu file after emulation.h,
    then a table of every name expression of every module with its launcher."""
    lines = [f'#include "{sources.EMULATION_HEADER}"', f'#include "{sources.COMMON_HEADER}"']
    lines += [f'#include "{file}"' for file, _ in sources.MODULES.values()]
    lines.append("static const mg_emu::Entry mg_emu_entries[] = {")
    for module in sources.MODULES:
        for name in sources.name_expressions(module):
            lines.append(f'    MG_EMU_ENTRY("{name}", {name}),')
    lines += ["};", "MG_EMU_DEFINE_C_API", ""]
    return "\n".join(lines)


def build_library():
    """Path of the emulation library, compiling it first if this source hash is not cached."""
    registry = registry_source()
    digest = hashlib.sha256()
    for part in [registry, CXX, *CXXFLAGS] + [p.read_text() for p in sources.source_files()]:
        digest.update(part.encode())
        digest.update(b"\0")
    target = cache_dir() / f"kernels-{digest.hexdigest()[:20]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cpp = Path(tmp) / "registry.cpp"
        cpp.write_text(registry)
        out = Path(tmp) / target.name
        cmd = [CXX, *CXXFLAGS, "-I", str(sources.KERNEL_DIR), str(cpp), "-o", str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise RuntimeError(f"CUDA emulation needs a C++20 compiler; {CXX!r} was not found "
                               "(set CXX)") from None
        if proc.returncode != 0:
            raise RuntimeError(f"building the CUDA emulation library failed:\n{' '.join(cmd)}\n"
                               f"{proc.stderr}")
        os.replace(out, target)  # atomic: concurrent builders each publish a complete file
    return target


class EmulatedRunner:
    """Runs the kernels on the host through the emulation library (see the module docstring)."""

    kind = "emulated"

    def __init__(self):
        self._lib = None
        self._kernels = {}  # name -> (index, [parameter codes])
        self._lock = threading.Lock()

    def _library(self):
        with self._lock:
            if self._lib is None:
                lib = ctypes.CDLL(str(build_library()))
                lib.mg_emu_name.restype = ctypes.c_char_p
                lib.mg_emu_launch.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint),
                                              ctypes.POINTER(ctypes.c_void_p)]
                lib.mg_emu_launch.restype = ctypes.c_int
                lib.mg_emu_error.restype = ctypes.c_char_p
                buf = ctypes.create_string_buffer(4096)
                for i in range(lib.mg_emu_count()):
                    if lib.mg_emu_signature(i, buf, len(buf)) < 0:
                        raise RuntimeError("emulation: kernel signature too long")
                    codes = buf.value.decode().split(",") if buf.value else []
                    self._kernels[lib.mg_emu_name(i).decode()] = (i, codes)
                self._lib = lib
        return self._lib

    def signature(self, name):
        """The kernel's parameter codes as compiled, e.g. ['Cf', 'Pf', 'q']."""
        self._library()
        return self._kernels[name][1]

    def launch(self, module, name, grid, block, args, *, device_id=None, shared_mem=0, fills=()):
        lib = self._library()
        if name not in self._kernels:
            raise RuntimeError(f"emulation: no kernel {name!r} in module {module!r}")
        if shared_mem:
            raise RuntimeError(f"{name}: dynamic shared memory is not emulated")
        dims = [int(v) for v in tuple(grid) + (1,) * (3 - len(grid))]
        dims += [int(v) for v in tuple(block) + (1,) * (3 - len(block))]
        if any(d < 1 for d in dims) or np.prod(dims[3:]) > 1024:
            raise RuntimeError(f"{name}: bad launch configuration grid {dims[:3]} block {dims[3:]}")
        index, codes = self._kernels[name]
        if len(args) != len(codes):
            raise TypeError(f"{name}: {len(args)} arguments for {len(codes)} parameters "
                            f"({', '.join(map(_describe, codes))})")
        values, guarded = [], {}  # guarded: id(host array) -> (host, buffer, start, const?)
        for pos, (arg, code) in enumerate(zip(args, codes)):
            values.append(self._value(name, pos, arg, code, pos in fills, guarded))
        pointers = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
        if lib.mg_emu_launch(index, (ctypes.c_uint * 6)(*dims), pointers) != 0:
            raise RuntimeError(f"{name}: {lib.mg_emu_error().decode()}")
        self._check_and_copy_back(name, guarded)

    def _value(self, name, pos, arg, code, fill, guarded):
        host = host_buffer(arg)
        if host is not None:
            if code[0] not in "PC":
                raise TypeError(f"{name}: argument {pos} is an array but the parameter is "
                                f"{_describe(code)}")
            if _POINTEE.get(host.dtype) != code[1]:
                raise TypeError(f"{name}: argument {pos} is a {host.dtype} array but the "
                                f"parameter is {_describe(code)}")
            if not host.flags.c_contiguous:
                raise ValueError(f"{name}: argument {pos} is not C-contiguous (a raw kernel "
                                 "ignores strides)")
            key = id(host)
            if key not in guarded:
                guarded[key] = self._guard(host, fill)
            entry = guarded[key]
            if code[0] == "P":
                entry[3] = False  # written through a non-const pointer somewhere
            return ctypes.c_void_p(entry[1].ctypes.data + entry[2])
        if type(arg) in (int, float, bool):
            raise TypeError(f"{name}: argument {pos} is a Python {type(arg).__name__}; pass an "
                            f"explicit numpy scalar of the parameter's type ({_describe(code)}), "
                            "CuPy would pass it as long long/double/bool")
        scalar = _SCALARS.get(type(arg))
        if scalar is None:
            raise TypeError(f"{name}: argument {pos} has unsupported type {type(arg).__name__}")
        if scalar[0] != code:
            raise TypeError(f"{name}: argument {pos} is {np.dtype(type(arg))} but the parameter "
                            f"is {_describe(code)}")
        return scalar[1](arg.item())

    @staticmethod
    def _guard(host, fill):
        nbytes = host.nbytes
        offset = host.ctypes.data % 256
        buffer = np.full(nbytes + 2 * _GUARD + 256, 0xFF, dtype=np.uint8)
        start = _GUARD + (offset - buffer.ctypes.data - _GUARD) % 256
        if not fill:
            buffer[start:start + nbytes] = host.reshape(-1).view(np.uint8)
        return [host, buffer, start, True]

    @staticmethod
    def _check_and_copy_back(name, guarded):
        for host, buffer, start, const in guarded.values():
            nbytes = host.nbytes
            if (buffer[:start] != 0xFF).any() or (buffer[start + nbytes:] != 0xFF).any():
                raise RuntimeError(f"{name}: the kernel wrote outside a {host.dtype}{host.shape} "
                                   "array argument")
            inside = buffer[start:start + nbytes]
            if const:
                if not np.array_equal(inside, host.reshape(-1).view(np.uint8)):
                    raise RuntimeError(f"{name}: the kernel wrote into a const array argument")
                continue
            host.reshape(-1).view(np.uint8)[:] = inside
