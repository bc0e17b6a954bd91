"""Build script: compiles the Cython kernels in kernels/cpu/ into minigrad.kernels.

Every extension is optional: without a working compiler minigrad installs anyway and
runs on its numpy reference kernels (mg.backend_info() says which serve).

Environment switches:
  MINIGRAD_NO_EXT=1       build no extension at all (pure numpy install, recorded in the
                          generated minigrad/kernels/cpu/build_info.py: no "kernels not
                          available" warning, stale compiled kernels are not loaded)
  MINIGRAD_REQUIRE_EXT=1  make a failed extension build an error instead of a warning
  MINIGRAD_OPENMP=0|1     force OpenMP off/on (default: probe the compiler)
  MINIGRAD_NATIVE=1       add -march=native (the wheel then only runs on this CPU type)
  MINIGRAD_CYTHON_DEBUG=1 compile with boundscheck/wraparound on
"""

import glob
import os
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_INFO = os.path.join("minigrad", "kernels", "cpu", "build_info.py")
BUILD_INFO_TEXT = '''"""Written by minigrad's setup.py at build time (not tracked by git).

NO_EXT: the install was made with MINIGRAD_NO_EXT=1, so the numpy reference kernels serve on
purpose: minigrad.backend.cpu then neither loads compiled kernels nor warns that they are missing.
"""

NO_EXT = {no_ext}
'''

OMP_PROBE = r"""
#include <omp.h>
int main(void) { int n = 0;
#pragma omp parallel reduction(+:n)
  n += 1;
  return omp_get_max_threads() > 0 ? 0 : 1; }
"""


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _write_build_info(package_dir):
    """kernels/cpu/build_info.py (see BUILD_INFO_TEXT) in `package_dir`, minigrad.kernels.cpu's
    folder in the build (a wheel) or, for an editable install, in the source tree."""
    os.makedirs(package_dir, exist_ok=True)
    with open(os.path.join(package_dir, "build_info.py"), "w") as f:
        f.write(BUILD_INFO_TEXT.format(no_ext=_flag("MINIGRAD_NO_EXT")))


class BuildPyWithInfo(build_py):
    """build_py, plus build_info.py: into the wheel, or into the source tree when editable."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            _write_build_info(os.path.join(HERE, "kernels", "cpu"))
        else:
            _write_build_info(os.path.join(self.build_lib, os.path.dirname(BUILD_INFO)))


class BuildExtWithProbes(build_ext):
    """Adds -O3 and, when the real compiler can link it, OpenMP."""

    def _openmp_links(self):
        setting = os.environ.get("MINIGRAD_OPENMP", "auto").strip().lower()
        if setting in ("0", "false", "off", "no"):
            return False
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp_probe.c")
            with open(src, "w") as f:
                f.write(OMP_PROBE)
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
                self.compiler.link_executable(
                    objs, os.path.join(tmp, "omp_probe"), extra_postargs=["-fopenmp"]
                )
                return True
            except Exception:
                if setting in ("1", "true", "on", "yes"):
                    raise
                return False

    def build_extensions(self):
        openmp = self._openmp_links()
        print(f"[minigrad] OpenMP: {openmp}")
        for ext in self.extensions:
            ext.extra_compile_args += ["-O3"]
            if _flag("MINIGRAD_NATIVE"):
                ext.extra_compile_args += ["-march=native"]
            if openmp:
                ext.extra_compile_args += ["-fopenmp"]
                ext.extra_link_args += ["-fopenmp"]
        super().build_extensions()
        if self.inplace:  # `setup.py build_ext --inplace` runs without build_py
            _write_build_info(os.path.join(HERE, "kernels", "cpu"))


def extensions():
    if _flag("MINIGRAD_NO_EXT"):
        return []
    import numpy as np
    from Cython.Build import cythonize
    from setuptools import Extension

    debug = _flag("MINIGRAD_CYTHON_DEBUG")
    exts = [
        Extension(
            "minigrad.kernels.cpu." + os.path.splitext(os.path.basename(pyx))[0],
            [pyx],
            # the headers and .pxi files every module includes: a change to one rebuilds
            depends=sorted(glob.glob("kernels/cpu/*.h") + glob.glob("kernels/cpu/*.pxi")),
            include_dirs=[np.get_include(), "kernels/cpu"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for pyx in sorted(glob.glob("kernels/cpu/*.pyx"))
    ]
    exts = cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": debug,
            "wraparound": debug,
            "cdivision": True,
            "initializedcheck": debug,
        },
    )
    # cythonize() drops Extension(optional=...), so it must be set afterwards.
    for ext in exts:
        ext.optional = not _flag("MINIGRAD_REQUIRE_EXT")
    return exts


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExtWithProbes, "build_py": BuildPyWithInfo},
)
