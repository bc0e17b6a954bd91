"""The README's set-up commands are what CI runs, and its quick-start code runs."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [block.strip() for block in _bash_blocks(readme)]
    assert len(commands) == 2, "the README must give exactly two set-up commands"
    test_command = commands[1]
    assert "pytest" in test_command
    assert test_command in ci.splitlines()


def test_readme_quick_start_runs(tmp_path, monkeypatch):
    """Every ```python block runs (in a temporary folder), and every output the README shows
    is what it prints (tests/doc_outputs.py)."""
    from doc_outputs import run_blocks

    monkeypatch.chdir(tmp_path)
    out, mismatches, checked = run_blocks(ROOT / "README.md", {"__name__": "__readme__"})
    assert not mismatches, "\n".join(mismatches)
    assert checked >= 4
    assert "True" in out


HIDE_TORCH = 'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n'


def test_without_torch_the_skipped_oracle_tests_are_one_line(tmp_path):
    """The README's `pytest` on a machine without torch: one summary line that says how to
    enable the oracle tests, not one SKIPPED line per test (tests/skip_summary.py)."""
    import os
    import subprocess
    import sys

    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(HIDE_TORCH)  # `import torch` fails
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    env.pop("MINIGRAD_FAKE_CUDA", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "tests/test_dlpack.py", "tests/test_torch_oracle.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    torch_lines = [line for line in skipped if "torch" in line]
    assert len(torch_lines) == 1, skipped
    assert "PyTorch oracle tests (torch is not installed; `pip install torch==2.13.0` runs them)" \
        in torch_lines[0]
    count = int(torch_lines[0].split("[")[1].split("]")[0])
    assert count > 10  # every oracle test of both files is in that one line
    assert len(skipped) <= 2, skipped  # + at most one line for "cuda" without a GPU
