"""The install the tests run on: the session check of conftest.py (tests/install_check.py),
the compiled-or-reference choice of minigrad.backend.cpu and its warning, and what a
non-editable install (a wheel) contains.

Each scenario runs in a child process, so the environment variables are read fresh.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import zipfile

import install_check
import pytest

import minigrad as mg
from minigrad.backend import cpu

ROOT = pathlib.Path(__file__).resolve().parents[1]
TESTS = pathlib.Path(__file__).resolve().parent


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MINIGRAD_REQUIRE_EXT", "MINIGRAD_DISABLE_EXT", "PYTHONPATH")}
    env.update(extra)
    return env


def _mini_suite(tmp_path):
    """tmp/tests with this suite's conftest.py and helper modules and one trivial test."""
    tests = tmp_path / "tests"
    tests.mkdir()
    for helper in TESTS.glob("*.py"):
        if not helper.name.startswith("test_"):
            shutil.copy(helper, tests / helper.name)
    (tests / "test_trivial.py").write_text("def test_trivial():\n    assert True\n")
    return tests


def _pytest(tmp_path, **env):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tmp_path / "tests")], cwd=tmp_path, capture_output=True,
                          text=True, env=_env(**env), timeout=300)


def test_this_session_imports_the_installed_package():
    assert install_check.problems(mg, ROOT) == []


def test_the_check_passes_on_a_good_install(tmp_path):
    _mini_suite(tmp_path)
    proc = _pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_session_fails_when_the_imported_package_is_not_the_installed_one(tmp_path):
    # As `python -m pytest` in a checkout after a non-editable install: the working folder's
    # minigrad/ (a copy of the sources, no compiled kernels) shadows the installed package.
    _mini_suite(tmp_path)
    shutil.copytree(pathlib.Path(mg.__file__).parent, tmp_path / "minigrad",
                    ignore=shutil.ignore_patterns("__pycache__"))
    proc = _pytest(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert "cannot start" in out and f"imported minigrad from {tmp_path / 'minigrad'}" in out
    assert "passed" not in proc.stdout and "skipped" not in proc.stdout


def test_session_fails_when_a_checkout_copy_would_shadow_the_package_in_children(tmp_path):
    # Plain `pytest` imports the installed package, but the tests' child processes started in
    # the checkout would import the checkout's minigrad/.
    _mini_suite(tmp_path)
    (tmp_path / "minigrad").mkdir()
    (tmp_path / "minigrad" / "__init__.py").write_text("")
    code = ("import sys, pytest; sys.path.remove(''); sys.exit(pytest.main(['-q', '-p', "
            f"'no:cacheprovider', {str(tmp_path / 'tests')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code],
                          cwd="/", capture_output=True, text=True, env=_env(), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert f"would import {tmp_path / 'minigrad'}" in out


def test_session_fails_when_kernels_are_required_but_disabled(tmp_path):
    _mini_suite(tmp_path)
    proc = _pytest(tmp_path, MINIGRAD_REQUIRE_EXT="1", MINIGRAD_DISABLE_EXT="1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert "MINIGRAD_REQUIRE_EXT=1, but MINIGRAD_DISABLE_EXT=1" in out


def test_session_with_required_kernels(tmp_path):
    """MINIGRAD_REQUIRE_EXT=1 passes where every kernel is compiled and fails where any is not
    (a MINIGRAD_NO_EXT install, or a failed build)."""
    _mini_suite(tmp_path)
    proc = _pytest(tmp_path, MINIGRAD_REQUIRE_EXT="1")
    out = proc.stdout + proc.stderr
    compiled = set(cpu.kernel_sources().values()) == {"cython"}
    if compiled:
        assert proc.returncode == 0, out
    else:
        assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out
        assert "MINIGRAD_REQUIRE_EXT=1, but" in out


def test_the_kernels_are_reported_missing_only_when_unintended():
    # Importing a minigrad whose kernels do not load (here: made unimportable) warns with the
    # advice; MINIGRAD_DISABLE_EXT=1 gives no warning.
    code = textwrap.dedent("""
        import sys, warnings
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.startswith("minigrad.kernels.cpu."):  # build_info too: unknown
                    raise ImportError("blocked")
        sys.meta_path.insert(0, Block())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import minigrad as mg
            from minigrad.backend import cpu  # noqa: F401  (the table is built on import)
        print(set(mg.backend_info()["cpu"].values()))
        print([str(w.message) for w in caught if "kernels" in str(w.message)])
    """)
    for env, warns in (({}, True), ({"MINIGRAD_DISABLE_EXT": "1"}, False)):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=_env(**env), cwd="/", timeout=120)
        assert proc.returncode == 0, proc.stderr
        sources, messages = proc.stdout.splitlines()
        assert sources == "{'reference'}"
        if warns:
            assert "not available" in messages and "pip install -e ." in messages
            assert "python setup.py" not in messages  # needs Cython in the environment
        else:
            assert messages == "[]"


def test_no_ext_build_info_disables_kernels_without_a_warning(tmp_path):
    # What a MINIGRAD_NO_EXT=1 install records (setup.py writes build_info.py), simulated by a
    # stand-in build_info module placed ahead of the real one: compiled kernels that happen to
    # be present are not loaded, and nothing warns.
    (tmp_path / "build_info.py").write_text("NO_EXT = True\n")
    code = textwrap.dedent(f"""
        import importlib.util, sys, warnings
        spec = importlib.util.spec_from_file_location("minigrad.kernels.cpu.build_info",
                                                      {str(tmp_path / "build_info.py")!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["minigrad.kernels.cpu.build_info"] = module
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import minigrad as mg
            from minigrad.backend import cpu
        print(cpu.DISABLED_BY, set(mg.backend_info()["cpu"].values()))
        print([str(w.message) for w in caught if "kernels" in str(w.message)])
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), cwd="/", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["MINIGRAD_NO_EXT=1 {'reference'}", "[]"]


# ------------------------------------------------------------------ non-editable installs
def _source_files(folder, suffixes):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def no_ext_wheel(tmp_path_factory):
    """A MINIGRAD_NO_EXT=1 wheel built from a clean copy of the sources (no build/ or in-place
    kernels from this checkout), without network: the build backend of this environment."""
    if not (ROOT / "minigrad").is_dir():
        pytest.skip("no sources to build from: CI's MINIGRAD_NO_EXT block removes minigrad/ after "
                    "its install (so the tests import the installed copy); block 1 builds this")
    setuptools = pytest.importorskip("setuptools")
    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (70, 1):
        pytest.importorskip("wheel", reason="setuptools < 70.1 builds wheels only with `wheel`")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "*.so", "*.c", "__pycache__", ".hypothesis",
        ".pytest_cache", "build_info.py", ".venv*"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(tmp / "dist"), str(src)],
                          capture_output=True, text=True, env=_env(MINIGRAD_NO_EXT="1"),
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp / "dist").glob("minigrad-*.whl")
    return wheel


def test_the_wheel_holds_every_source_and_data_file(no_ext_wheel):
    names = set(zipfile.ZipFile(no_ext_wheel).namelist())
    wanted = {f"minigrad/{n}" for n in _source_files(ROOT / "minigrad", {".py", ".npz"})}
    wanted |= {f"minigrad/kernels/{n}" for n in _source_files(
        ROOT / "kernels", {".py", ".pyx", ".pxi", ".h", ".cu", ".cuh"}) if n != "cpu/build_info.py"}
    assert wanted - names == set()
    assert "minigrad/kernels/cpu/build_info.py" in names


def test_the_installed_wheel_imports_every_module_without_warnings(no_ext_wheel, tmp_path):
    target = tmp_path / "site"
    with zipfile.ZipFile(no_ext_wheel) as z:
        z.extractall(target)
    code = textwrap.dedent("""
        import importlib, pkgutil, sys, warnings
        warnings.simplefilter("error")  # a kernels-missing warning would fail the import
        import minigrad as mg
        assert mg.__file__.startswith(sys.argv[1]), mg.__file__
        names = [m.name for m in pkgutil.walk_packages(mg.__path__, "minigrad.")
                 if not m.name.endswith("__main__")]  # those run the command line
        for name in names:
            importlib.import_module(name)
        from minigrad.backend import cpu
        assert cpu.DISABLED_BY == "MINIGRAD_NO_EXT=1", cpu.DISABLED_BY
        assert mg.data.load_digits()[0].shape == (1797, 1, 8, 8)
        x = mg.randn(2, 1, 8, 8, requires_grad=True)
        mg.nn.Conv2d(1, 2, 3)(x).sum().backward()
        print(len(names))
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                          text=True, env=_env(PYTHONPATH=str(target)), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) > 50
