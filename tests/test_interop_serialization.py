"""Weights across libraries: the safetensors format of mg.save/mg.load, PyTorch state dicts in
Module.load_state_dict, file-like objects, map_location, and the error for torch tensors.

The PyTorch twin of the benchmark CNN (minigrad/bench/train.py, `build_model("cnn", 28)`) must
give the same outputs as minigrad's after weights travel either way.
"""

import io
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.training import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _torch_cnn(torch):
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def _images(n=4, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 1, 28, 28)).astype(np.float32)


def _outputs_agree(mg_model, torch_model, torch):
    x = _images()
    with mg.no_grad():
        ours = mg_model(mg.tensor(x)).numpy()
    with torch.no_grad():
        theirs = torch_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    return float(np.abs(ours - theirs).max())


# ---------------------------------------------------------------------------- safetensors


def test_safetensors_round_trip_by_extension_and_format(tmp_path):
    pytest.importorskip("safetensors")
    sd = {"w": mg.tensor(np.arange(6.0).reshape(2, 3)), "b": mg.tensor([True, False]),
          "i": mg.arange(4), "h": mg.tensor(np.ones(2, np.float16)), "s": mg.tensor(2.5),
          "t": mg.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4)).T}  # non-contiguous
    mg.save(sd, tmp_path / "a.safetensors")
    mg.save(sd, tmp_path / "b.bin", format="safetensors")
    head = (tmp_path / "b.bin").read_bytes()[:9]
    assert head[8:9] == b"{" and not head.startswith(b"PK")  # really safetensors, not our zip
    for name in ("a.safetensors", "b.bin"):
        for loaded in (mg.load(tmp_path / name), mg.load(str(tmp_path / name),
                                                          format="safetensors")):
            assert sorted(loaded) == sorted(sd)
            for key, value in sd.items():
                assert isinstance(loaded[key], mg.Tensor) and loaded[key].device == "cpu"
                assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
                np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())


def test_safetensors_refuses_nested_and_foreign_values(tmp_path):
    pytest.importorskip("safetensors")
    with pytest.raises(TypeError, match="flat dict.*\\['opt'\\] is a dict.*default minigrad"):
        mg.save({"opt": {"lr": mg.ones(1)}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="keys must be str"):
        mg.save({0: mg.ones(1)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="unsupported type str"):
        mg.save({"a": "text"}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(ValueError, match="unknown format 'pickle'"):
        mg.save({}, tmp_path / "y", format="pickle")


def test_damaged_safetensors_file_is_a_value_error(tmp_path):
    pytest.importorskip("safetensors")
    path = tmp_path / "m.safetensors"
    mg.save({"w": mg.ones(3, 3)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 5])
    with pytest.raises(ValueError, match="m.safetensors' is not a valid safetensors file"):
        mg.load(path)


def test_without_the_package_the_error_names_it(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "safetensors" or m.startswith("safetensors.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "safetensors", None)  # import safetensors -> ImportError
    with pytest.raises(ImportError, match="save: the safetensors format needs the "
                                          "'safetensors' package: pip install safetensors"):
        mg.save({"w": mg.ones(2)}, tmp_path / "m.safetensors")
    (tmp_path / "m.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ImportError, match="load: .*pip install safetensors"):
        mg.load(tmp_path / "m.safetensors")
    mg.save({"w": mg.ones(2)}, tmp_path / "m.mg")  # the default format needs nothing extra
    assert mg.load(tmp_path / "m.mg")["w"].tolist() == [1.0, 1.0]


def test_minigrad_safetensors_file_loads_into_torch_cnn(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    mg.manual_seed(3)
    model = build_model("cnn", 28)
    mg.save(model.state_dict(), tmp_path / "cnn.safetensors")
    twin = _torch_cnn(torch)
    result = twin.load_state_dict(st.load_file(str(tmp_path / "cnn.safetensors")))
    assert not result.missing_keys and not result.unexpected_keys
    _outputs_agree(model, twin, torch)


def test_torch_safetensors_file_loads_into_minigrad_cnn(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    torch.manual_seed(4)
    twin = _torch_cnn(torch)
    st.save_file(twin.state_dict(), str(tmp_path / "cnn.safetensors"))
    model = build_model("cnn", 28)
    model.load_state_dict(mg.load(tmp_path / "cnn.safetensors"))
    _outputs_agree(model, twin, torch)


# ---------------------------------------------------------------------------- torch state dicts


def test_load_state_dict_takes_a_torch_state_dict():
    torch = pytest.importorskip("torch")
    torch.manual_seed(5)
    twin = _torch_cnn(torch)
    model = build_model("cnn", 28)
    model.load_state_dict(twin.state_dict())
    _outputs_agree(model, twin, torch)
    model.load_state_dict(dict(twin.named_parameters()))  # tensors that require grad too
    _outputs_agree(model, twin, torch)


def test_torch_state_dict_with_buffers_and_errors():
    torch = pytest.importorskip("torch")
    tbn = torch.nn.BatchNorm1d(3)
    tbn.running_mean.fill_(0.5)
    tbn.num_batches_tracked.fill_(7)
    bn = mg.nn.BatchNorm1d(3)
    bn.load_state_dict(tbn.state_dict())
    assert bn.running_mean.tolist() == [0.5, 0.5, 0.5] and bn.num_batches_tracked.item() == 7
    lin = mg.nn.Linear(2, 3)
    bad = torch.nn.Linear(3, 3).state_dict()
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        lin.load_state_dict(bad)
    with pytest.raises(TypeError, match="value for 'weight'.*bfloat16"):
        lin.load_state_dict({k: v.to(torch.bfloat16)
                             for k, v in torch.nn.Linear(2, 3).state_dict().items()})


def test_torch_values_are_read_without_a_copy():
    torch = pytest.importorskip("torch")
    from minigrad.nn.module import _as_array

    src = torch.arange(6.0).reshape(2, 3)
    array = _as_array(src, "w")
    assert array.ctypes.data == src.data_ptr()  # the same memory until copied into the model


def test_save_names_torch_tensors_and_says_how_to_convert(tmp_path):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"save: the value at \['w'\] is a PyTorch tensor "
                                        r"\(torch.Tensor\).*mg.from_dlpack\(t.detach\(\)\)"):
        mg.save({"w": torch.ones(2)}, tmp_path / "c")
    with pytest.raises(TypeError, match=r"\['weight'\] is a PyTorch tensor"):
        mg.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "c.safetensors")
    with pytest.raises(TypeError, match="PyTorch tensor.*Parameter"):
        mg.save({"p": torch.nn.Parameter(torch.ones(1))}, tmp_path / "c")
    assert not (tmp_path / "c").exists()


# ---------------------------------------------------------------------------- file-like objects


def test_save_and_load_with_bytesio():
    mg.manual_seed(0)
    model = mg.nn.Linear(3, 2)
    opt = mg.optim.Adam(model.parameters())
    model(mg.ones(1, 3)).sum().backward()
    opt.step()
    buffer = io.BytesIO()
    mg.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 1}, buffer)
    buffer.seek(0)
    loaded = mg.load(buffer)
    assert loaded["epoch"] == 1
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded["model"][key].numpy(), value.numpy())
    with pytest.raises(ValueError, match="'<BytesIO>' is not a valid minigrad checkpoint"):
        mg.load(io.BytesIO(b"not a checkpoint"))


def test_safetensors_with_bytesio_and_open_files(tmp_path):
    pytest.importorskip("safetensors")
    buffer = io.BytesIO()
    mg.save({"w": mg.ones(2, 2)}, buffer, format="safetensors")
    buffer.seek(0)
    assert mg.load(buffer)["w"].tolist() == [[1.0, 1.0], [1.0, 1.0]]  # recognised by content
    with open(tmp_path / "f.ckpt", "wb") as f:
        mg.save({"x": mg.arange(3)}, f)
    with open(tmp_path / "f.ckpt", "rb") as f:
        assert mg.load(f)["x"].tolist() == [0, 1, 2]
    with open(tmp_path / "f.ckpt", "r", encoding="latin-1") as f:
        with pytest.raises(TypeError, match="binary mode"):
            mg.load(f)


# ---------------------------------------------------------------------------- map_location


SAVE_ON_CUDA = """
import minigrad as mg, sys
mg.manual_seed(0)
model = mg.nn.Linear(2, 3).to("cuda")
opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
model(mg.ones(1, 2, device="cuda")).sum().backward()
opt.step()
mg.save({"model": model.state_dict(), "opt": opt.state_dict(), "x": mg.ones(2)}, sys.argv[1])
print(model.weight.tolist())
"""


def test_cuda_checkpoint_loads_without_a_gpu(tmp_path):
    """Saved on the emulated GPU in a child process; loaded here, where there is no GPU."""
    if mg.cuda.is_available():
        pytest.skip("this test needs a process without CUDA")
    path = tmp_path / "gpu.ckpt"
    env = dict(os.environ, MINIGRAD_FAKE_CUDA="1")
    done = subprocess.run([sys.executable, "-c", SAVE_ON_CUDA, str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    weight = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - our own printout
    with pytest.raises(RuntimeError, match="saved on cuda:0.*map_location='cpu'"):
        mg.load(path)
    for where in ("cpu", mg.Device("cpu"), {"cuda:0": "cpu"}):
        loaded = mg.load(path, map_location=where)
        assert loaded["model"]["weight"].device == "cpu"
        np.testing.assert_allclose(loaded["model"]["weight"].numpy(), weight, rtol=1e-6)
        assert loaded["x"].device == "cpu"
    # and it trains on: the CPU model and optimizer take the checkpoint
    model = mg.nn.Linear(2, 3)
    opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.load_state_dict(loaded["model"])
    opt.load_state_dict(loaded["opt"])
    with pytest.raises(TypeError, match="map_location must be"):
        mg.load(path, map_location=3)


def test_weight_round_trip_minigrad_safetensors_torch_dlpack_minigrad(tmp_path):
    """Issue 13's closing check: minigrad -> safetensors file -> PyTorch -> DLPack -> minigrad.
    The weights come back bit for bit, the last hop shares torch's memory, and all three
    models give the same outputs."""
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    mg.manual_seed(13)
    original = build_model("cnn", 28)
    mg.save(original.state_dict(), tmp_path / "cnn.safetensors")
    twin = _torch_cnn(torch)
    twin.load_state_dict(st.load_file(str(tmp_path / "cnn.safetensors")))
    back = {k: mg.from_dlpack(v) for k, v in twin.state_dict().items()}
    for key, value in original.state_dict().items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape
        np.testing.assert_array_equal(back[key].numpy(), value.numpy(), err_msg=key)
        assert back[key].numpy().ctypes.data == twin.state_dict()[key].data_ptr()
    restored = build_model("cnn", 28)
    restored.load_state_dict(back)
    _outputs_agree(original, twin, torch)
    x = mg.tensor(_images())
    with mg.no_grad():
        np.testing.assert_array_equal(restored(x).numpy(), original(x).numpy())
