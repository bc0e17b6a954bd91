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


def test_readme_quick_start_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "True" in out
