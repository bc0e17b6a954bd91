"""`minigrad train`: train a small CNN or MLP on the shipped digits or on MNIST.

    minigrad train                                  # the demo: CNN on the 8x8 digits
    minigrad train --model mlp
    minigrad train --dataset mnist --data-dir ~/mnist --epochs 1
    minigrad train --save ckpt.mgz                  # then mg.load("ckpt.mgz")
    minigrad train --resume ckpt.mgz                # continue an interrupted run

Data:
    digits  the 1797 8x8 images of `mg.data.load_digits()`, split about 80/20 into 1437
            training and 360 test images by a fixed permutation (numpy's default_rng(0)):
            the same split for every --seed, so accuracies of different runs compare fairly.
    mnist   the standard 60000/10000 split from the IDX files in --data-dir
            (`mg.data.load_mnist`).

Models (`build_model`):
    cnn  conv-relu-pool twice, then two linear layers. For 8x8 digits:
         Conv2d(1,16,3,padding=1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,padding=1)-ReLU-MaxPool2d(2)
         -Flatten-Linear(128,64)-ReLU-Linear(64,10); for 28x28 MNIST the classic
         Conv2d(1,32,3)-ReLU-MaxPool2d(2)-Conv2d(32,64,3)-ReLU-MaxPool2d(2)-Flatten
         -Linear(1600,128)-ReLU-Linear(128,10).
    mlp  Flatten-Linear(pixels,128)-ReLU-Linear(128,10).

Training: cross-entropy loss, mini-batches of --batch-size reshuffled every epoch, Adam or
SGD with momentum 0.9 (`--optimizer sgd`), and a cosine learning-rate schedule
(`CosineAnnealingLR`, stepped once per epoch) from --lr down towards 0, which makes the final
accuracy much less sensitive to the seed than a constant rate. `--seed` seeds
`mg.manual_seed`, which fixes the initial weights and the shuffling order.
Defaults (`DEFAULT_EPOCHS`, `DEFAULT_LR`) are chosen so that plain `minigrad train` takes
well under a minute on two CPU cores and reaches >= 97% test accuracy (the MLP >= 95%).

Output: one tqdm progress bar per epoch on stderr (running loss, images/s), followed by
`epoch 3/15: train loss 0.1234, test accuracy 0.9611`; the last line on stdout is
`test accuracy: 0.9833` (a fraction, 4 decimals), measured under `mg.no_grad()` with
`model.eval()`. Bad arguments, a missing MNIST file or an unusable
device print `minigrad train: error: ...` on stderr and return exit code 2.

`--threads N` runs every CPU kernel on at most N threads (`mg.set_num_threads`; default
OMP_NUM_THREADS, else one per core, less the cores other processes keep busy). With a thread
count set (--threads or OMP_NUM_THREADS) and the machine busy (fewer idle cores than threads),
a warning suggests `--threads 1`: a parallel kernel is as slow as its slowest thread.

`--save PATH` writes, with `mg.save`, after every epoch (atomically: a run killed mid-save
leaves the previous epoch's checkpoint),
`{"model": model.state_dict(), "optimizer": optimizer.state_dict(),
"scheduler": scheduler.state_dict(), "rng": mg.random.get_rng_state(), "epoch": epochs done,
"args": {...}}` where "args" holds every option with the defaults filled in; rebuild the
network with `build_model(args["model"], args["image_size"])` and `load_state_dict`.

`--resume PATH` continues the run such a checkpoint belongs to: the run's settings (model,
dataset, batch size, lr, optimizer, seed, epochs) come from "args", the weights, optimizer
and scheduler state and the random generator from the rest, and training goes on at the next
epoch, so the final weights equal those of the same run never interrupted. `--epochs` may
set a new total (the cosine schedule then stretches to it); `--device`, `--save` and
`--data-dir` apply as given; another setting that differs from the checkpoint's is an error.
"""

import math
import os
import sys
import time

import numpy as np

import minigrad as mg
from minigrad import threads
from minigrad.backend.device import as_device
from minigrad.cli import output_path_problem

# Epochs per (dataset, model) and learning rate per (dataset, optimizer) when not given.
DEFAULT_EPOCHS = {("digits", "cnn"): 15, ("digits", "mlp"): 15,
                  ("mnist", "cnn"): 2, ("mnist", "mlp"): 5}
DEFAULT_LR = {("digits", "adam"): 1e-2, ("digits", "sgd"): 5e-2,
              ("mnist", "adam"): 1e-3, ("mnist", "sgd"): 1e-2}
SGD_MOMENTUM = 0.9
DIGITS_TEST_SIZE = 360  # of 1797, about 20%
DIGITS_SPLIT_SEED = 0
EVAL_BATCH_SIZE = 500
NUM_CLASSES = 10
CNN_MIN_IMAGE_SIZE = 4


class UsageError(Exception):
    """A problem with the user's arguments or files: reported in one line, exit code 2."""


def build_model(name: str, image_size: int, num_classes: int = NUM_CLASSES) -> "mg.nn.Module":
    """The network `minigrad train --model NAME` trains, for square 1-channel images.

    Args:
        name: "cnn" or "mlp".
        image_size: side of the input images (8 for digits, 28 for MNIST).
        num_classes: number of outputs (logits).
    """
    nn = mg.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(image_size * image_size, 128), nn.ReLU(),
                             nn.Linear(128, num_classes))
    if name != "cnn":
        raise ValueError(f"build_model: unknown model {name!r} (expected 'cnn' or 'mlp')")
    if image_size < CNN_MIN_IMAGE_SIZE:
        raise ValueError(f"build_model: the CNN needs images of at least {CNN_MIN_IMAGE_SIZE}x"
                         f"{CNN_MIN_IMAGE_SIZE} (two 2x2 poolings), got {image_size}x{image_size}")
    if image_size < 16:
        # Small images: pad so each conv keeps the size; two 2x2 pools leave size // 4.
        side = image_size // 2 // 2
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * side * side, 64), nn.ReLU(), nn.Linear(64, num_classes))
    # Unpadded 3x3 convs: 28 -> 26 -> 13 -> 11 -> 5.
    side = ((image_size - 2) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * side * side, 128), nn.ReLU(), nn.Linear(128, num_classes))


def load_data(dataset: str, data_dir=None) -> tuple:
    """(train_images, train_labels, test_images, test_labels) as CPU Tensors.

    digits: the fixed 80/20 split described in the module docstring. mnist: the train and
    t10k files from `data_dir`. Raises UsageError for a missing --data-dir or MNIST file.
    """
    if dataset == "digits":
        images, labels = mg.data.load_digits()
        order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(labels))
        test, train = order[:DIGITS_TEST_SIZE], order[DIGITS_TEST_SIZE:]
        return images[train], labels[train], images[test], labels[test]
    if dataset == "mnist":
        if data_dir is None:
            raise UsageError("--dataset mnist needs --data-dir DIR, a folder holding the MNIST "
                             "IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                             "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may "
                             "be .gz); minigrad does not download them")
        try:
            x_train, y_train = mg.data.load_mnist(data_dir, train=True)
            x_test, y_test = mg.data.load_mnist(data_dir, train=False)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(str(e)) from e
        _check_trainable(data_dir, x_train, y_train, x_test, y_test)
        return x_train, y_train, x_test, y_test
    raise UsageError(f"unknown dataset {dataset!r} (expected 'digits' or 'mnist')")


def _check_trainable(data_dir, x_train, y_train, x_test, y_test) -> None:
    """Files that load_mnist reads fine can still be untrainable: refuse them in one line."""
    for split, images, labels in (("training", x_train, y_train), ("test", x_test, y_test)):
        if len(labels) == 0:
            raise UsageError(f"--data-dir {data_dir}: the {split} split holds 0 images")
        rows, cols = images.shape[-2:]
        if rows == 0 or rows != cols:
            raise UsageError(f"--data-dir {data_dir}: the {split} images are {rows}x{cols}; "
                             "minigrad train needs square images of at least 1x1")
        low, high = int(labels.min().item()), int(labels.max().item())
        if low < 0 or high >= NUM_CLASSES:
            bad = high if high >= NUM_CLASSES else low
            raise UsageError(f"--data-dir {data_dir}: the {split} labels include {bad}; "
                             f"minigrad train trains {NUM_CLASSES} classes, labels 0..."
                             f"{NUM_CLASSES - 1}")
    if x_train.shape[-1] != x_test.shape[-1]:
        raise UsageError(f"--data-dir {data_dir}: training images are {x_train.shape[-1]}x"
                         f"{x_train.shape[-1]} but test images are {x_test.shape[-1]}x"
                         f"{x_test.shape[-1]}")


def make_optimizer(name: str, params, lr: float):
    """Adam(lr) or SGD(lr, momentum=0.9)."""
    if name == "adam":
        return mg.optim.Adam(params, lr=lr)
    if name == "sgd":
        return mg.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM)
    raise UsageError(f"unknown optimizer {name!r} (expected 'sgd' or 'adam')")


def evaluate(model, images, labels, device="cpu", batch_size: int = EVAL_BATCH_SIZE) -> float:
    """Fraction of `images` that `model` classifies correctly (eval mode, no graph)."""
    was_training = model.training
    model.eval()
    correct = 0
    with mg.no_grad():
        for start in range(0, len(labels), batch_size):
            xb = images[start:start + batch_size].to(device)
            yb = labels[start:start + batch_size].to(device)
            correct += int((model(xb).argmax(dim=1) == yb).sum().item())
    model.train(was_training)
    return correct / len(labels)


def train_epoch(model, loader, optimizer, loss_fn, device, progress) -> float:
    """One pass over `loader`; returns the mean training loss. `progress` is a tqdm bar
    counting images (so its rate is images/s)."""
    model.train()
    total_loss, seen = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = len(yb)
        total_loss += loss.item() * n
        seen += n
        progress.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
        progress.update(n)
    return total_loss / max(seen, 1)


# Run settings and their defaults; --resume takes them from the checkpoint instead.
RUN_DEFAULTS = {"model": "cnn", "dataset": "digits", "batch_size": 32, "optimizer": "adam",
                "seed": 0}
CHECKPOINT_KEYS = {"model", "optimizer", "scheduler", "rng", "epoch", "args"}


def _resolve(args) -> dict:
    """The options with defaults filled in, checked; raises UsageError."""
    args = _with_resumed_settings(args) if getattr(args, "resume", None) else args
    for name, default in RUN_DEFAULTS.items():
        if getattr(args, name, None) is None:
            setattr(args, name, default)
    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS[(args.dataset, args.model)]
    lr = args.lr if args.lr is not None else DEFAULT_LR[(args.dataset, args.optimizer)]
    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr must be a positive finite number, got {lr}")
    if args.data_dir is not None and args.dataset != "mnist":
        raise UsageError(f"--data-dir is only read with --dataset mnist; the {args.dataset} "
                         "dataset ships with minigrad")
    return {"model": args.model, "dataset": args.dataset, "data_dir": args.data_dir,
            "epochs": int(epochs), "batch_size": int(args.batch_size), "lr": float(lr),
            "optimizer": args.optimizer, "device": str(args.device), "seed": int(args.seed),
            "save": args.save, "resume": getattr(args, "resume", None),
            "checkpoint": getattr(args, "checkpoint", None),
            "threads": getattr(args, "threads", None)}


def load_checkpoint(path: str) -> dict:
    """A `minigrad train --save` checkpoint, on the CPU; UsageError if it is not one."""
    try:
        ckpt = mg.load(path, map_location="cpu")
    except (OSError, ValueError, RuntimeError) as e:
        raise UsageError(f"--resume {path}: {e}") from e
    if not isinstance(ckpt, dict) or not CHECKPOINT_KEYS <= set(ckpt):
        have = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise UsageError(f"--resume {path}: not a resumable 'minigrad train --save' checkpoint "
                         f"(it holds {have}; needed: {sorted(CHECKPOINT_KEYS)}; checkpoints of "
                         "older versions lack the scheduler and random-generator state)")
    return ckpt


def _with_resumed_settings(args):
    """args with the run settings of the --resume checkpoint (and the checkpoint itself)."""
    import argparse

    ckpt = load_checkpoint(args.resume)
    saved = ckpt["args"]
    merged = argparse.Namespace(**vars(args))
    for name in (*RUN_DEFAULTS, "lr"):
        given = getattr(args, name, None)
        if given is not None and given != saved[name]:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"--resume {args.resume}: the checkpoint's run has {flag} "
                             f"{saved[name]}, not {given}; a resumed run keeps its settings "
                             f"(drop {flag})")
        setattr(merged, name, saved[name])
    if args.epochs is None:
        merged.epochs = saved["epochs"]
    elif args.epochs < ckpt["epoch"]:
        raise UsageError(f"--epochs {args.epochs}: the checkpoint has already done "
                         f"{ckpt['epoch']} epochs")
    if args.data_dir is None and saved["dataset"] == "mnist":
        merged.data_dir = saved["data_dir"]
    merged.checkpoint = ckpt
    return merged


def train(options: dict, out=None, err=None) -> dict:
    """Train as `minigrad train` does; returns {"model", "optimizer", "accuracy", "options"}.

    `options` is the dict `_resolve` builds (every key filled in). Raises UsageError for a
    bad option, a missing file or an unusable device.
    """
    from tqdm import tqdm

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        device = as_device(options["device"])
    except (RuntimeError, ValueError, TypeError) as e:
        raise UsageError(str(e)) from e
    if options["save"] is not None:
        problem = output_path_problem(options["save"])  # fail now rather than after training
        if problem:
            raise UsageError(f"--save {options['save']}: {problem}")

    x_train, y_train, x_test, y_test = load_data(options["dataset"], options["data_dir"])
    image_size = x_train.shape[-1]
    options = dict(options, image_size=int(image_size))

    mg.manual_seed(options["seed"])  # initial weights and shuffling order
    try:
        model = build_model(options["model"], image_size).to(device)
    except ValueError as e:
        raise UsageError(str(e)) from e
    optimizer = make_optimizer(options["optimizer"], model.parameters(), options["lr"])
    scheduler = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options["epochs"])
    loss_fn = mg.nn.CrossEntropyLoss()
    loader = mg.data.DataLoader(mg.data.TensorDataset(x_train, y_train),
                                batch_size=options["batch_size"], shuffle=True)
    done = _restore(options, model, optimizer, scheduler)

    epochs = options["epochs"]
    momentum = f" (momentum {SGD_MOMENTUM})" if options["optimizer"] == "sgd" else ""
    print(f"{options['model']} on {options['dataset']} ({len(y_train)} train / {len(y_test)} "
          f"test images), {epochs} epoch{'s' * (epochs != 1)}, batch {options['batch_size']}, "
          f"{options['optimizer']}{momentum} lr {options['lr']:g} (cosine schedule), "
          f"device {device}{_threads_note(device)}, seed {options['seed']}", file=err, flush=True)
    if options["resume"]:
        print(f"resuming from {options['resume']} after epoch {done}", file=err, flush=True)
    if device.type == "cpu" and not threads.adapts_to_load():  # else the kernels give way
        warning = busy_machine_warning(mg.get_num_threads())
        if warning:
            print(f"minigrad train: warning: {warning}", file=err, flush=True)
    width = len(str(epochs))
    start = time.perf_counter()
    accuracy = None
    for epoch in range(done + 1, epochs + 1):
        with tqdm(total=len(y_train), desc=f"epoch {epoch:>{width}}/{epochs}",
                  unit="img", file=err, dynamic_ncols=True, leave=True) as progress:
            loss = train_epoch(model, loader, optimizer, loss_fn, device, progress)
        scheduler.step()
        accuracy = evaluate(model, x_test, y_test, device)  # draws no random numbers
        print(f"epoch {epoch:>{width}}/{epochs}: train loss {loss:.4f}, test accuracy "
              f"{accuracy:.4f}", file=err, flush=True)
        if options["save"] is not None:
            _save_checkpoint(options, model, optimizer, scheduler, epoch)
    elapsed = time.perf_counter() - start

    if accuracy is None:  # resumed a finished run: nothing left to train
        accuracy = evaluate(model, x_test, y_test, device)
    print(f"trained in {elapsed:.1f} s", file=err, flush=True)
    if options["save"] is not None:
        print(f"saved checkpoint to {options['save']}", file=err, flush=True)
    print(f"test accuracy: {accuracy:.4f}", file=out, flush=True)
    return {"model": model, "optimizer": optimizer, "accuracy": accuracy, "options": options}


def _restore(options, model, optimizer, scheduler) -> int:
    """Load the --resume checkpoint into the fresh model, optimizer, scheduler and random
    generator; returns the number of epochs it had done (0 without --resume)."""
    ckpt = options.get("checkpoint")
    if ckpt is None:
        return 0
    try:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        mg.random.set_rng_state(ckpt["rng"])
    except (RuntimeError, ValueError, TypeError, KeyError) as e:
        raise UsageError(f"--resume {options['resume']}: the checkpoint does not fit its own "
                         f"run settings: {e}") from e
    scheduler.T_max = options["epochs"]  # a new --epochs stretches the schedule
    return int(ckpt["epoch"])


def _save_checkpoint(options, model, optimizer, scheduler, epoch) -> None:
    args = {k: v for k, v in options.items() if k != "checkpoint"}
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "rng": mg.random.get_rng_state(),
                  "epoch": epoch, "args": args}
    try:
        mg.save(checkpoint, options["save"])
    except (OSError, ValueError) as e:
        raise UsageError(f"--save {options['save']}: cannot write the checkpoint: {e}") from e


def _threads_note(device) -> str:
    if device.type != "cpu":
        return ""
    n = mg.get_num_threads()
    return f" ({n} thread{'s' * (n != 1)})"


def busy_machine_warning(threads: int, load: float | None = None,
                         cores: int | None = None) -> str | None:
    """Why `threads` kernel threads would crawl on this machine now, or None.

    A parallel kernel waits for its slowest thread, so one thread that shares its core with
    another process slows the whole kernel down, many times over on a small machine. The warning
    is given when the idle cores (cores - 1-minute load average) are fewer than the threads:
    load + threads > cores + 0.5.
    """
    if threads <= 1:
        return None
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):  # no load average on this platform
            return None
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not cores or load + threads <= cores + 0.5:
        return None
    return (f"the machine is busy (load average {load:.1f} on {cores} "
            f"core{'s' * (cores != 1)}) and each kernel runs {threads} threads, which can then "
            "be many times slower than one: try --threads 1")


def train_main(args) -> int:
    """Entry point of `minigrad train` (args from minigrad.cli); returns the exit code.
    --threads sets mg.set_num_threads for the run (put back afterwards)."""
    from . import threads

    previous = threads._setting
    try:
        options = _resolve(args)
        if options["threads"] is not None:
            mg.set_num_threads(options["threads"])
        train(options)
    except UsageError as e:
        print(f"minigrad train: error: {e}", file=sys.stderr, flush=True)
        return 2
    finally:
        threads._restore(previous)
    return 0
