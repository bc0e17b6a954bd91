"""`minigrad train` (minigrad.training) and the scripts in examples/.

The accuracy tests run the command exactly as a user would, with its defaults: the CNN must
reach >= 97% and the MLP >= 95% on the fixed 360-image digits test split.
"""

import contextlib
import io
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import cli, training

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAST_LINE = re.compile(r"test accuracy: (0\.\d{4}|1\.0000)")


def run_cli(argv):
    """minigrad.cli.main(argv) -> (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def final_accuracy(stdout):
    last = stdout.rstrip("\n").splitlines()[-1]
    match = LAST_LINE.fullmatch(last)
    assert match, f"last stdout line is {last!r}, expected 'test accuracy: 0.xxxx'"
    return float(match.group(1))


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """`minigrad train --save PATH` with every other option at its default; keeps the
    trained model (captured from training.train) to compare with the checkpoint."""
    path = tmp_path_factory.mktemp("ckpt") / "cnn.mgz"
    results = []
    original = training.train

    def recording_train(*args, **kwargs):
        results.append(original(*args, **kwargs))
        return results[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "train", recording_train)
        code, out, err = run_cli(["train", "--save", str(path)])
    return {"code": code, "out": out, "err": err, "path": path, "result": results[0]}


def test_default_cnn_reaches_97_percent(cnn_run):
    assert cnn_run["code"] == 0, cnn_run["err"]
    assert final_accuracy(cnn_run["out"]) >= 0.97
    # stdout holds only the result; the configuration and progress go to stderr.
    assert cnn_run["out"].strip().splitlines() == [cnn_run["out"].strip()]
    assert "cnn on digits (1437 train / 360 test images), 15 epochs" in cnn_run["err"]


def test_a_test_accuracy_line_per_epoch(cnn_run):
    lines = [line for line in cnn_run["err"].splitlines() if re.fullmatch(
        r"epoch +\d+/15: train loss \d+\.\d{4}, test accuracy (0\.\d{4}|1\.0000)", line)]
    assert len(lines) == 15, cnn_run["err"][-2000:]
    assert lines[-1].endswith(f"test accuracy {final_accuracy(cnn_run['out']):.4f}")


def test_progress_bar_shows_loss_and_throughput(cnn_run):
    err = cnn_run["err"]
    assert "epoch 15/15" in err and "epoch  1/15" in err
    assert re.search(r"loss=\d+\.\d{4}", err), err[-500:]
    assert "img/s" in err


def test_checkpoint_loads_into_a_fresh_model(cnn_run):
    ckpt = mg.load(cnn_run["path"])
    assert set(ckpt) == {"model", "optimizer", "scheduler", "rng", "epoch", "args"}
    assert ckpt["epoch"] == 15
    args = ckpt["args"]
    assert args["model"] == "cnn" and args["dataset"] == "digits" and args["optimizer"] == "adam"
    assert args["lr"] == training.DEFAULT_LR[("digits", "adam")] and args["batch_size"] == 32

    trained = cnn_run["result"]["model"]
    fresh = training.build_model(args["model"], args["image_size"])
    fresh.load_state_dict(ckpt["model"])
    fresh.eval()
    trained.eval()
    _, _, x_test, y_test = training.load_data("digits")
    with mg.no_grad():
        expected, got = trained(x_test).numpy(), fresh(x_test).numpy()
    np.testing.assert_array_equal(got.argmax(1), expected.argmax(1))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    acc = training.evaluate(fresh, x_test, y_test)
    assert f"{acc:.4f}" == f"{final_accuracy(cnn_run['out']):.4f}"

    optimizer = mg.optim.Adam(fresh.parameters(), lr=args["lr"])
    optimizer.load_state_dict(ckpt["optimizer"])


def test_default_mlp_reaches_95_percent():
    code, out, err = run_cli(["train", "--model", "mlp"])
    assert code == 0, err
    assert final_accuracy(out) >= 0.95


def test_sgd_option_trains():
    code, out, err = run_cli(["train", "--model", "mlp", "--optimizer", "sgd", "--epochs", "3"])
    assert code == 0, err
    assert "sgd (momentum 0.9) lr 0.05" in err
    assert final_accuracy(out) > 0.5  # far above chance (0.1) after 3 epochs


def test_seed_fixes_the_run(tmp_path):
    def weights(seed, name):
        path = tmp_path / name
        code, out, err = run_cli(["train", "--model", "mlp", "--epochs", "2", "--seed", str(seed),
                                  "--save", str(path)])
        assert code == 0, err
        return out, mg.load(path)["model"]

    out_a, a = weights(1, "a.mgz")
    out_b, b = weights(1, "b.mgz")
    _, c = weights(2, "c.mgz")
    assert out_a == out_b
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert not np.array_equal(a["1.weight"].numpy(), c["1.weight"].numpy())


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_mnist_from_tiny_idx_files(tmp_path, model):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 48), ("t10k", 20)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte",
                   rng.integers(0, 256, (n, 28, 28)), 0x803)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n), 0x801)
    code, out, err = run_cli(["train", "--dataset", "mnist", "--data-dir", str(tmp_path),
                              "--model", model, "--epochs", "1", "--batch-size", "16"])
    assert code == 0, err
    assert f"{model} on mnist (48 train / 20 test images), 1 epoch," in err
    acc = final_accuracy(out)
    assert acc * 20 == pytest.approx(round(acc * 20))  # a count out of 20 test images


def test_mnist_without_data_dir_is_a_clean_error():
    code, out, err = run_cli(["train", "--dataset", "mnist"])
    assert code == 2 and out == ""
    assert err.startswith("minigrad train: error: --dataset mnist needs --data-dir")
    assert "Traceback" not in err


def test_mnist_missing_files_is_a_clean_error(tmp_path):
    code, out, err = run_cli(["train", "--dataset", "mnist", "--data-dir", str(tmp_path)])
    assert code == 2 and out == ""
    assert "minigrad train: error: load_mnist: cannot find train-images-idx3-ubyte" in err
    assert str(tmp_path) in err and "Traceback" not in err


@pytest.mark.skipif(mg.cuda.is_available(), reason="a CUDA GPU is present")
def test_cuda_without_gpu_is_a_clean_error():
    code, out, err = run_cli(["train", "--device", "cuda"])
    assert code == 2 and out == ""
    assert err.startswith("minigrad train: error: cuda is not available: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--lr", "-1"], "--lr: must be a positive finite number"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--save", "/nonexistent-folder/x.mgz"], "does not exist"),
])
def test_bad_options_are_clean_errors(argv, message):
    code, out, err = run_cli(["train", *argv])
    assert code == 2 and out == ""
    assert err.startswith("minigrad train: error: ") and message in err


def _run(*argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def test_python_dash_m_minigrad_train():
    proc = _run("-m", "minigrad", "train", "--model", "mlp", "--epochs", "2")
    assert proc.returncode == 0, proc.stderr
    assert final_accuracy(proc.stdout) > 0.5
    assert "img/s" in proc.stderr


@pytest.mark.parametrize("script", ["train_mlp.py", "train_cnn.py"])
def test_example_runs(script):
    proc = _run(str(ROOT / "examples" / script), "2")  # 2 epochs instead of the default
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("epoch 1: last batch loss ")
    assert final_accuracy(proc.stdout) > 0.5


# --- issue 8 item 8: every bad input is one line and a non-zero exit

def write_mnist(folder, train=(8, 28, 28), test=(4, 28, 28), labels=None):
    """Tiny IDX files: `train`/`test` are the image arrays' shapes; `labels` overrides the
    test labels."""
    rng = np.random.default_rng(0)
    for prefix, shape in (("train", train), ("t10k", test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, shape), 0x803)
        values = rng.integers(0, 10, shape[0])
        if prefix == "t10k" and labels is not None:
            values = np.asarray(labels)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", values, 0x801)
    return folder


def assert_one_line_error(code, out, err, *fragments):
    assert code == 2 and out == "", (code, out, err)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("minigrad train: error: "), err
    for fragment in fragments:
        assert fragment in last, (fragment, last)


@pytest.mark.parametrize("files, fragments", [
    (dict(test=(0, 28, 28)), ["test split holds 0 images"]),
    (dict(test=(4, 28, 28), labels=[1, 2, 255, 3]), ["test labels include 255", "0...9"]),
    (dict(train=(8, 0, 0), test=(4, 0, 0)), ["training images are 0x0"]),
    (dict(train=(8, 28, 28), test=(4, 14, 14)), ["training images are 28x28 but test images "
                                                 "are 14x14"]),
    (dict(train=(8, 28, 20), test=(4, 28, 20)), ["images are 28x20", "square"]),
    (dict(train=(8, 3, 3), test=(4, 3, 3)), ["CNN needs images of at least 4x4"]),
])
def test_untrainable_mnist_folders_are_one_line_errors(tmp_path, files, fragments):
    write_mnist(tmp_path, **files)
    result = run_cli(["train", "--dataset", "mnist", "--data-dir", str(tmp_path),
                      "--epochs", "1"])
    assert_one_line_error(*result, *fragments)


@pytest.mark.parametrize("lr", ["inf", "nan", "-inf", "0", "-0.1", "abc"])
def test_non_finite_or_non_positive_lr_is_refused_before_training(lr):
    code, out, err = run_cli(["train", f"--lr={lr}"])
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip() == (f"minigrad train: error: argument --lr: "
                           + ("expected a number, got 'abc'" if lr == "abc" else
                              f"must be a positive finite number, got {lr!r}")
                           + " (see minigrad train --help)")


def test_lr_inf_through_the_library_is_refused_too():
    args = cli.build_parser().parse_args(["train"])
    args.lr = float("inf")
    with pytest.raises(training.UsageError, match="--lr must be a positive finite number"):
        training._resolve(args)


def test_data_dir_with_digits_is_not_silently_ignored(tmp_path):
    result = run_cli(["train", "--data-dir", str(tmp_path)])
    assert_one_line_error(*result, "--data-dir is only read with --dataset mnist")


def test_save_into_a_folder_path_fails_before_training(tmp_path):
    result = run_cli(["train", "--save", str(tmp_path)])
    assert_one_line_error(*result, "is a folder")


# --- issue 13 item 4: --version, --help, --resume


def test_version():
    code, out, _ = run_cli(["--version"])
    assert code == 0 and out.strip() == f"minigrad {mg.__version__}"


def test_train_help_shows_defaults_and_the_checkpoint_format():
    code, out, _ = run_cli(["train", "--help"])
    assert code == 0
    text = " ".join(out.split())
    for default in ("the network (default: cnn)", "(default: digits)", "default: 32",
                    "(default: adam)", "default: cpu", "(default: 0)",
                    "default: 15 on digits, 2 (cnn) or 5 (mlp) on mnist",
                    "0.01 adam / 0.05 sgd on digits, 0.001 / 0.01 on mnist"):
        assert default in text, default
    # the defaults named are the ones the code uses
    assert training.RUN_DEFAULTS == {"model": "cnn", "dataset": "digits", "batch_size": 32,
                                     "optimizer": "adam", "seed": 0}
    assert training.DEFAULT_EPOCHS == {("digits", "cnn"): 15, ("digits", "mlp"): 15,
                                       ("mnist", "cnn"): 2, ("mnist", "mlp"): 5}
    assert training.DEFAULT_LR == {("digits", "adam"): 1e-2, ("digits", "sgd"): 5e-2,
                                   ("mnist", "adam"): 1e-3, ("mnist", "sgd"): 1e-2}
    assert "--resume PATH" in text and "--save PATH" in text
    for key in training.CHECKPOINT_KEYS:
        assert f"'{key}'" in text, key
    assert "mg.load(PATH)" in text and "no pickle" in text


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path, monkeypatch, optimizer):
    """Run A: 3 epochs straight. Run B: the same run killed (Ctrl-C) during epoch 3, then
    resumed from the checkpoint it saved after epoch 2. Same final weights, bit for bit."""
    common = ["train", "--model", "mlp", "--epochs", "3", "--optimizer", optimizer,
              "--seed", "5"]
    code, out_a, err_a = run_cli(common + ["--save", str(tmp_path / "a.ckpt")])
    assert code == 0, err_a

    original, calls = training.train_epoch, []

    def interrupted_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    with monkeypatch.context() as mp:
        mp.setattr(training, "train_epoch", interrupted_epoch)
        code, _, err = run_cli(common + ["--save", str(tmp_path / "b.ckpt")])
    assert code == 130, err
    assert mg.load(tmp_path / "b.ckpt")["epoch"] == 2
    # the mid-run checkpoint differs from the finished one: the test can fail
    a = mg.load(tmp_path / "a.ckpt")
    assert not np.array_equal(a["model"]["1.weight"].numpy(),
                              mg.load(tmp_path / "b.ckpt")["model"]["1.weight"].numpy())

    code, out_b, err_b = run_cli(["train", "--resume", str(tmp_path / "b.ckpt"),
                                  "--save", str(tmp_path / "b.ckpt")])
    assert code == 0, err_b
    assert "resuming from" in err_b and "after epoch 2" in err_b
    assert "epoch 1/3" not in err_b and "epoch 3/3: train loss" in err_b
    b = mg.load(tmp_path / "b.ckpt")
    assert b["epoch"] == 3
    for key, value in a["model"].items():
        np.testing.assert_array_equal(b["model"][key].numpy(), value.numpy(), err_msg=key)
    for key in ("lr", "momentum"):
        assert a["optimizer"]["param_groups"][0].get(key) == \
            b["optimizer"]["param_groups"][0].get(key)
    assert out_a == out_b  # the same final test accuracy line
    epoch3 = [line for line in err_a.splitlines() if line.startswith("epoch 3/3: train")]
    assert epoch3 and epoch3[0] in err_b.splitlines()  # the same loss and accuracy


def test_resume_errors(tmp_path):
    code, out, err = run_cli(["train", "--resume", str(tmp_path / "missing.ckpt")])
    assert_one_line_error(code, out, err, "--resume")
    mg.save({"model": {}}, tmp_path / "other.ckpt")
    code, out, err = run_cli(["train", "--resume", str(tmp_path / "other.ckpt")])
    assert_one_line_error(code, out, err, "not a resumable 'minigrad train --save' checkpoint")
    code, _, err = run_cli(["train", "--model", "mlp", "--epochs", "1",
                            "--save", str(tmp_path / "c.ckpt")])
    assert code == 0, err
    code, out, err = run_cli(["train", "--resume", str(tmp_path / "c.ckpt"), "--model", "cnn"])
    assert_one_line_error(code, out, err, "has --model mlp, not cnn", "drop --model")
    code, out, err = run_cli(["train", "--resume", str(tmp_path / "c.ckpt"), "--epochs", "0"])
    assert_one_line_error(code, out, err, "already done 1 epochs")
    code, out, err = run_cli(["train", "--resume", str(tmp_path / "c.ckpt")])  # finished
    assert code == 0 and final_accuracy(out) > 0.5
