"""docs/tutorial.md stays true: every ```python block runs, in order, in one namespace, and
every output the text shows is what the code prints (tests/doc_outputs.py says how outputs
are shown and compared).

The blocks build on each other (section 2 uses the tensors of section 1, ...), so they are
executed one after the other in a shared namespace, with the working directory set to a
temporary folder so that nothing is written into the repository. Tracebacks carry the file's
own line numbers.
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

from doc_outputs import matches, python_blocks, run_blocks, shown_output  # noqa: E402,F401


def test_block_extraction():
    text = ("a\n```python\nx = 1\n```\n```text\nnot run\n```\n```bash\nls\n```\n"
            "```python\ny = x\n```\n")
    assert python_blocks(text) == [(2, "x = 1\n"), (11, "y = x\n")]


def test_shown_outputs_are_parsed_and_compared():
    import ast

    code = ("x = 1  # not output: no print on this line\n"
            "print([0.26894, 0.5])  # [0.2689..., 0.5]  <- sigmoid\n"
            "for i in range(2):\n    print(i)\n# 0\n# 1\n")
    lines = code.splitlines()
    stmts = ast.parse(code).body
    assert shown_output(lines, stmts[0]) == []
    assert shown_output(lines, stmts[1]) == ["[0.2689..., 0.5]"]
    assert shown_output(lines, stmts[2]) == ["0", "1"]
    assert matches(["[0.2689..., 0.5]"], "[0.26894, 0.5]\n")
    assert not matches(["[0.2689..., 0.5]"], "[0.2690, 0.5]\n")  # the digits shown count
    assert matches(["tensor([[ 1., 2.], [ 3., 4.]], ...)"],
                   "tensor([[ 1., 2.],\n        [ 3., 4.]], dtype=float32, device='cpu')\n")
    assert matches(["graph.svg | graph.dot"], "graph.dot\n")
    assert not matches(["(4, 8, 5, 5)"], "(4, 8, 5, 6)\n")
    assert not matches(["0", "1"], "0\n")


def test_tutorial_code_excerpts_are_in_the_source():
    """The Cython excerpt of section 4 and the reference excerpt are the code as it is (lines
    compared with whitespace squashed; `...` marks left-out lines)."""
    text = TUTORIAL.read_text()
    from minigrad.backend import reference

    excerpts = [("cython", ROOT / "kernels" / "cpu" / "conv.pyx", None),
                # the installed package's file (CI's MINIGRAD_NO_EXT block removes the checkout's
                # minigrad/ to test the installed package)
                ("text", pathlib.Path(reference.__file__), "def conv2d_forward")]
    for lang, source, marker in excerpts:
        lines = {" ".join(line.split()) for line in source.read_text().splitlines()}
        found = [m.group(1) for m in re.finditer(rf"^```{lang}\n(.*?)^```", text,
                                                 flags=re.S | re.M)
                 if marker is None or marker in m.group(1)]
        assert found, f"no ```{lang} excerpt of {source.name} in the tutorial"
        for excerpt in found:
            for line in excerpt.splitlines():
                squashed = " ".join(line.split())
                if squashed and squashed != "...":
                    assert any(squashed in have for have in lines), (
                        f"docs/tutorial.md quotes {line.strip()!r}, which {source.name} no "
                        "longer has")


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
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__tutorial__"}
    timings, last = [], [time.perf_counter()]

    def timed(stmt, printed):
        now = time.perf_counter()
        timings.append((now - last[0], stmt.lineno))
        last[0] = now

    assert len(python_blocks(TUTORIAL.read_text())) >= 12, "the ```python blocks were not found"
    try:
        out, mismatches, checked = run_blocks(TUTORIAL, namespace, timed)
    except BaseException as exc:  # noqa: BLE001 - report where, then fail
        raise AssertionError("docs/tutorial.md: a python block raised "
                             f"{type(exc).__name__}: {exc}\n"
                             + "".join(traceback.format_exception(exc))) from exc
    # As a reader running from the repository root sees paths: relative to it.
    out = out.replace(str(ROOT) + "/", "")
    outdir = namespace.get("outdir")
    if outdir and pathlib.Path(outdir).is_dir():
        shutil.rmtree(outdir)  # the viz render's temporary folder
    # Every output the text shows is what the code printed (tests/doc_outputs.py).
    assert not mismatches, "\n".join(mismatches)
    assert checked >= 30, f"only {checked} shown outputs were found and compared"
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
    text = TUTORIAL.read_text()
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
        print("\n  tutorial statements: %.1f s in all; slowest %s" % (
            sum(t for t, _ in timings),
            ", ".join(f"line {ln} {t:.1f} s" for t, ln in slowest)))


def _text_block_after(text, marker):
    """The ```text block that follows the first line containing `marker`."""
    start = text.index(marker)
    match = re.compile(r"^```text\n(.*?)^```", flags=re.S | re.M).search(text, start)
    assert match, f"no ```text block after {marker!r}"
    return match.group(1).splitlines()


def _shown_in_order(shown, printed):
    """Each shown line other than '...' matches a printed line (whitespace squashed, '...'
    any text), in the order shown; returns the lines that do not."""
    printed = [" ".join(line.split()) for line in printed.splitlines()]
    missing, at = [], 0
    for line in shown:
        squashed = " ".join(line.split())
        if not squashed or squashed == "...":
            continue
        pattern = re.compile(re.escape(squashed).replace(re.escape("..."), ".*?"))
        for i in range(at, len(printed)):
            if pattern.fullmatch(printed[i]):
                at = i + 1
                break
        else:
            missing.append(line)
    return missing


def test_gradcheck_output_shown_is_the_real_one(capsys):
    """Section 3's `minigrad gradcheck --op mul --verbose` output, line for line (the old text
    showed a 1 x 1 Jacobian where the real one is 12 x 3)."""
    from minigrad import cli

    shown = _text_block_after(TUTORIAL.read_text(), "minigrad gradcheck --op mul --verbose")
    assert cli.main(["gradcheck", "--op", "mul", "--verbose"]) == 0
    printed = capsys.readouterr().out
    assert not _shown_in_order(shown, printed), (_shown_in_order(shown, printed), printed)
    assert "Jacobian 12 x 3" in " ".join(shown)


def test_bench_output_shown_has_the_real_layout():
    """Section 6's sample of `minigrad bench` output: the group title, the column header and
    the rows' order are what format_report prints (timings are left out in the text)."""
    from minigrad import bench
    from minigrad.bench import MINIGRAD, NUMPY_BEST, REFERENCE, TORCH, Result, Timing

    shown = _text_block_after(TUTORIAL.read_text(), "one block per group")
    timing = Timing(median=1.0, q1=0.9, q3=1.1, min=0.8, max=1.2, repeats=5)
    results = bench.compute_ratios([Result("gemm", "1024x1024x1024", impl, timing,
                                           2 * 1024 ** 3, "GFLOP/s")
                                    for impl in (MINIGRAD, REFERENCE, NUMPY_BEST, TORCH)])
    report = {"machine": bench.machine_info(1), "config": {"name": "quick"},
              "results": results, "targets": bench.evaluate_targets(results), "runtime_s": 1.0}
    printed = bench.format_report(report)
    assert not _shown_in_order(shown, printed), (_shown_in_order(shown, printed), printed)
