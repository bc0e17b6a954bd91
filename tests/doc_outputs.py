"""Run the ```python blocks of a Markdown file statement by statement and compare what each
statement prints with the output the text shows for it.

Where the docs show output (the convention docs/tutorial.md and README.md follow):
- a comment on the line of a `print(...)` call: `print(x.grad)   # tensor([2., 4.], ...)`;
- comment lines right after a statement that prints: `tiny_backward(loss)` then `# ran ...`.
In a comment, `...` stands for any text (so `0.2689...` checks the digits shown), `A | B`
accepts either, and everything from `  <-` on is a remark for the reader, not output.
Whitespace runs (and line breaks, where numpy wraps an array) compare as one space. A
statement whose shown output is not what it prints fails the test, and so does shown output
that nothing printed.
"""

import ast
import contextlib
import io
import re

FENCE = re.compile(r"^```(\S*)[ \t]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)
REMARK = re.compile(r"\s+<-.*$")


def python_blocks(text):
    """[(line number of the opening fence, code)] of every ```python block, in order."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(2))
            for m in FENCE.finditer(text) if m.group(1) == "python"]


def _comment(line):
    """The comment on a code line (None if none): the text after the first '#' that is not
    inside a string literal."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[i + 1:]
    return None


def shown_output(lines, stmt):
    """The output the text shows for top-level statement `stmt` (1-based line numbers into
    `lines`), as a list of lines; [] when it shows none."""
    shown = []
    if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        for number in range(stmt.lineno, stmt.end_lineno + 1):
            line = lines[number - 1]
            if "print(" in line and not line.lstrip().startswith("#"):
                comment = _comment(line)
                if comment is not None:
                    shown.append(comment)
    number = stmt.end_lineno + 1
    while number <= len(lines) and lines[number - 1].lstrip().startswith("#"):
        shown.append(lines[number - 1].lstrip()[1:])
        number += 1
    shown = [REMARK.sub("", s).strip() for s in shown]
    return [s for s in shown if s]


def _squash(text):
    return " ".join(text.split())


def matches(shown, printed):
    """Whether `printed` (the statement's stdout) is what `shown` (lines) describes."""
    pattern = []
    for line in shown:
        alternatives = [re.escape(_squash(a)).replace(re.escape("..."), ".*?")
                        for a in line.split(" | ")]
        pattern.append("(?:" + "|".join(alternatives) + ")")
    return re.fullmatch(" ".join(pattern), _squash(printed), flags=re.S) is not None


def run_blocks(path, namespace, on_statement=None):
    """Execute every ```python block of the file at `path` in `namespace`; returns
    (all printed output, [mismatch descriptions], number of shown outputs checked).
    Exceptions propagate with the file's own line numbers."""
    text = path.read_text()
    lines = text.splitlines()
    everything, mismatches, checked = [], [], 0
    for fence_line, code in python_blocks(text):
        padded = "\n" * fence_line + code  # line numbers are the file's own
        for stmt in ast.parse(padded, str(path)).body:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(ast.Module([stmt], type_ignores=[]), str(path), "exec"), namespace)
            printed = buffer.getvalue()
            everything.append(printed)
            shown = shown_output(lines, stmt)
            if on_statement is not None:
                on_statement(stmt, printed)
            if not shown:
                continue
            checked += 1
            if not matches(shown, printed):
                mismatches.append(f"{path.name}:{stmt.lineno}: shows {shown!r} but printed "
                                  f"{printed!r}")
    return "".join(everything), mismatches, checked
