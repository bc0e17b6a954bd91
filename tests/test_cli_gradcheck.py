"""`minigrad gradcheck`: the table of every registered op, --op, --verbose, --fast, --json,
--device, exit codes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.cli import main
from minigrad.testing import opspecs
from minigrad.testing.spec import OpSpec

DIFFERENTIABLE = [s.name for s in opspecs.ALL_SPECS if s.differentiable]


def run(capsys, *argv):
    code = main(["gradcheck", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def row_of(out, name):
    rows = [line for line in out.splitlines() if line.startswith(name + " ")]
    assert len(rows) == 1, f"expected one row for {name}:\n{out}"
    return rows[0]


def test_every_op_passes(capsys):
    code, out, _ = run(capsys)
    assert code == 0, out
    for name in DIFFERENTIABLE:
        assert row_of(out, name).endswith("PASS")
    assert "FAIL" not in out
    assert f"{len(DIFFERENTIABLE)} passed, 0 failed" in out
    non_diff = [s.name for s in opspecs.ALL_SPECS if not s.differentiable]
    assert not any(line.startswith(n + " ") for n in non_diff for line in out.splitlines())


def test_op_filter(capsys):
    code, out, _ = run(capsys, "--op", "matmul")
    assert code == 0
    assert row_of(out, "matmul").endswith("PASS")
    assert "1 passed, 0 failed" in out
    assert not any(line.startswith("add ") for line in out.splitlines())


def test_verbose_prints_both_jacobians(capsys):
    code, out, _ = run(capsys, "--op", "mul", "--verbose")
    assert code == 0
    assert "Jacobians of mul" in out
    assert "analytical" in out and "numerical" in out
    assert "input 0" in out and "input 1" in out
    # The side-by-side block has as many "|" separated rows as the Jacobian has rows.
    block = [line for line in out.splitlines() if " | " in line]
    assert len(block) >= 2


def test_unknown_op_exits_2_and_suggests_the_nearest_names(capsys):
    code, out, err = run(capsys, "--op", "matmull")
    assert code == 2
    assert "unknown op 'matmull'. Did you mean: matmul" in err
    assert "conv2d" not in err  # not the whole list
    code, out, err = run(capsys, "--op", "no_such_op_at_all")
    assert code == 2 and "Run `minigrad gradcheck` (no --op)" in err


def test_verbose_without_op_is_an_error(capsys):
    code, out, err = run(capsys, "--verbose")
    assert code == 2 and "--op" in err and out == ""


def test_lists_registered_ops_without_gradient_samples(capsys):
    code, out, _ = run(capsys, "--op", "add")
    assert "without gradient samples" not in out  # only for the whole registry
    code, out, _ = run(capsys)
    line = next(line for line in out.splitlines() if "without gradient samples" in line)
    non_diff = sorted(s.name for s in opspecs.ALL_SPECS if not s.differentiable)
    assert non_diff and line.endswith(", ".join(non_diff))
    code, _, err = run(capsys, "--op", non_diff[0])
    assert code == 2 and "no gradient samples" in err


def test_json_is_valid_and_lists_every_op(capsys, tmp_path):
    path = tmp_path / "gradcheck.json"
    code, out, _ = run(capsys, "--json", str(path))
    assert code == 0 and f"wrote {path}" in out
    data = json.loads(path.read_text())  # strict JSON: json.loads would accept NaN, so check
    assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()
    names = [row["op"] for row in data["ops"]]
    assert sorted(names) == sorted(s.name for s in opspecs.ALL_SPECS)
    for row in data["ops"]:
        if row["differentiable"]:
            assert row["passed"] is True and row["shapes"] and row["max_abs_err"] < 1e-5
        else:
            assert row["passed"] is None and row["op"] in data["without_gradient_samples"]
    assert (data["passed"], data["failed"], data["mode"]) == (len(DIFFERENTIABLE), 0, "full")


def test_fast_mode_row(capsys):
    code, out, _ = run(capsys, "--op", "conv2d", "--fast")
    assert code == 0 and "fast mode (random projections)" in out
    assert row_of(out, "conv2d").endswith("PASS")


def test_an_unavailable_device_exits_2(capsys, monkeypatch):
    monkeypatch.delenv("MINIGRAD_FAKE_CUDA", raising=False)
    try:
        mg.zeros(1).to("cuda")
        pytest.skip("a CUDA device is available here")
    except (RuntimeError, ValueError, TypeError):
        pass
    code, _, err = run(capsys, "--op", "add", "--device", "cuda")
    assert code == 2 and err.startswith("minigrad gradcheck: ")


def test_a_wrong_gradient_is_reported_as_fail(capsys, monkeypatch):
    class Wrong(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 3

    bad = OpSpec(name="wrong_double", fn=Wrong.apply,
                 sample=lambda rng, case: tuple(rng.standard_normal(s) for s in case),
                 shape_cases=lambda rng: [((3,),)], covers=())
    monkeypatch.setattr(opspecs, "ALL_SPECS", [opspecs.SPECS_BY_NAME["add"], bad])
    code, out, _ = run(capsys)
    assert code == 1
    assert row_of(out, "wrong_double").endswith("FAIL")
    assert row_of(out, "add").endswith("PASS")
    assert "input 0" in out  # the gradcheck message localises the failure
    assert "d output 0[0] / d input 0[0]" in out and "analytical 3, numerical 2" in out


def test_a_failure_is_in_the_json(capsys, monkeypatch, tmp_path):
    class Wrong(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 3

    bad = OpSpec(name="wrong_double", fn=Wrong.apply,
                 sample=lambda rng, case: tuple(rng.standard_normal(s) for s in case),
                 shape_cases=lambda rng: [((2,),)], covers=())
    monkeypatch.setattr(opspecs, "ALL_SPECS", [bad])
    path = tmp_path / "out.json"
    assert run(capsys, "--json", str(path))[0] == 1
    (row,) = json.loads(path.read_text())["ops"]
    assert row["passed"] is False
    failure = row["failures"][0]["failures"][0]
    assert (failure["analytical"], failure["numerical"]) == (3.0, pytest.approx(2.0))
    assert failure["diagnosis"]["kind"] == "wrong gradient"


def test_subprocess_entry_point():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-m", "minigrad", "gradcheck", "--op", "add"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert row_of(result.stdout, "add").endswith("PASS")


@pytest.mark.parametrize("seed", [1, 7])
def test_other_seeds_pass_too(capsys, seed):
    code, out, _ = run(capsys, "--seed", str(seed))
    assert code == 0, "\n".join(line for line in out.splitlines() if "FAIL" in line or "wrong" in line)
    assert np.isfinite(float(row_of(out, "conv2d").split()[-3]))
