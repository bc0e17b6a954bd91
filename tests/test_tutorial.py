"""docs/tutorial.md stays true: every ```python block runs, in order, in one namespace.

The blocks build on each other (section 2 uses the tensors of section 1, ...), so they are
executed one after the other in a shared namespace, with the working directory set to a
temporary folder so that nothing is written into the repository. A failing block is reported
by its index, its line in the file and its first line of code.
"""

import pathlib
import re
import shutil
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"

SECTIONS = [
    "## 1. Tensors and the recorded graph",
    "## 2. What `backward()` does, step by step",
    "## 3. Writing your own `mg.Function` and proving its gradient",
    "## 4. Reading one kernel: conv2d, reference and Cython",
    "## 5. Training a CNN on the shipped digits",
    "## 6. Benchmarking against numpy and PyTorch",
]

_FENCE = re.compile(r"^```(\S*)[ \t]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)


def python_blocks(text):
    """[(line number of the opening fence, code)] of every ```python block, in order."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(2))
            for m in _FENCE.finditer(text) if m.group(1) == "python"]


def _first_code_line(code):
    for line in code.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    return ""


def test_block_extraction():
    text = ("a\n```python\nx = 1\n```\n```text\nnot run\n```\n```bash\nls\n```\n"
            "```python\ny = x\n```\n")
    assert python_blocks(text) == [(2, "x = 1\n"), (11, "y = x\n")]


def test_tutorial_has_its_sections():
    headings = [line.rstrip() for line in TUTORIAL.read_text().splitlines()
                if line.startswith("## ")]
    missing = [s for s in SECTIONS if s not in headings]
    assert not missing, f"docs/tutorial.md lacks the sections {missing}"
    order = [headings.index(s) for s in SECTIONS]
    assert order == sorted(order), "the tutorial's sections are out of order"


def test_readme_links_the_tutorial():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"\]\(docs/tutorial\.md\)", readme), "README.md must link docs/tutorial.md"


def test_tutorial_code_runs(tmp_path, monkeypatch, capsys):
    text = TUTORIAL.read_text()
    blocks = python_blocks(text)
    assert len(blocks) >= 12, "the tutorial's ```python blocks were not found"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__tutorial__"}
    timings = []
    for index, (line, code) in enumerate(blocks):
        start = time.perf_counter()
        try:
            # Padded so that line numbers are the file's own: a traceback (or gradcheck's
            # "called at docs/tutorial.md:LINE") points into the tutorial.
            exec(compile("\n" * line + code, str(TUTORIAL), "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - report which block, then fail
            raise AssertionError(
                f"docs/tutorial.md: python block {index} (line {line}, starting "
                f"{_first_code_line(code)!r}) raised {type(exc).__name__}: {exc}\n"
                + "".join(traceback.format_exception(exc))
            ) from exc
        timings.append((time.perf_counter() - start, index, line))
    # As a reader running from the repository root sees paths: relative to it.
    out = capsys.readouterr().out.replace(str(ROOT) + "/", "")
    outdir = namespace.get("outdir")
    if outdir and pathlib.Path(outdir).is_dir():
        shutil.rmtree(outdir)  # the viz render's temporary folder
    # Spot checks of what the text tells the reader they will see.
    assert "grad_fn=<MulBackward>" in out
    assert "[[1.0, 3.0], [26.0, 0.0]] [[2.0, -6.0], [39.0, 4.0]]" in out
    assert "dependencies: ['AddBackward=1', 'MulBackward=1', 'MulBackward=3']" in out
    assert "RecursionError" in out
    assert "reference and Cython conv2d agree" in out
    assert "// 13 op applications, 8 leaves" in out
    assert namespace["final_accuracy"] > 0.85
    assert "False wrong gradient BadSoftPlus 1" in out.splitlines()
    assert "BadSoftPlus: gradient w.r.t. input 0 (shape (), float64) is wrong" in out.splitlines()
    # The GradcheckError message shown in the text is the one the code prints, line for line.
    shown = re.search(r"```text\n(model: .*?)```", text, flags=re.S)
    assert shown, "the tutorial no longer shows the GradcheckError message"
    for expected in shown.group(1).splitlines():
        assert expected in out.splitlines(), (
            f"the tutorial shows {expected!r}; the code printed:\n{out}")
    # Nothing was written outside the temporary folders.
    assert not list(tmp_path.iterdir()), sorted(p.name for p in tmp_path.iterdir())
    with capsys.disabled():
        slowest = sorted(timings, reverse=True)[:3]
        print("\n  tutorial blocks: %.1f s in all; slowest %s" % (
            sum(t for t, _, _ in timings),
            ", ".join(f"block {i} (line {ln}) {t:.1f} s" for t, i, ln in slowest)))
