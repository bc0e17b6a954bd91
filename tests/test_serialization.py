"""mg.save / mg.load (minigrad.serialization): exact round trips, atomic writes, and clear
errors for unsupported, truncated, foreign, tampered and pickle-carrying files."""

import io
import json
import math
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad.serialization import load, save


def assert_same(a, b):
    """Equal values and exactly the same types, dtypes and container kinds, recursively."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert [(type(k), k) for k in a] == [(type(k), k) for k in b]
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, mg.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and str(b.device) == "cpu"
        assert not b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.numpy())
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b
        if isinstance(a, float):
            assert math.copysign(1, a) == math.copysign(1, b)  # keeps -0.0


def state():
    """A checkpoint shaped like module + optimizer state dicts, with every supported type."""
    w = mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    return {
        "model": OrderedDict(weight=w, bias=mg.tensor(np.array([0.5, -1.5]), dtype=mg.float64),
                             steps=mg.tensor(np.array([1, 2, 3], dtype=np.int64)),
                             mask=mg.tensor(np.array([True, False]))),
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": np.ones((2, 3), np.float32)},
                      1: {"step": 3, "exp_avg": np.zeros(2, np.float64)}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False,
                              "params": [0, 1], "weight_decay": 0.0}],
        },
        "epoch": 7, "0": "string key zero", 0: "int key zero", "name": "run-α",
        "nothing": None, "flags": [True, 1, False, 0], "floats": [-0.0, 1e-300, math.inf,
                                                                   -math.inf, math.nan, 0.1],
        "big": 2 ** 70, "empty": ([], (), {}), "scalars": (np.float32(1.5), np.int64(-2),
                                                           np.bool_(True)),
        "arrays": [np.zeros((0, 3)), np.array(4.0), np.arange(12).reshape(3, 4).T,
                   np.array([1 + 2j], np.complex64), np.array([7], np.uint8)],
    }


def test_round_trip_keeps_every_type_exactly(tmp_path):
    original = state()
    save(original, tmp_path / "ckpt.mg")
    loaded = load(tmp_path / "ckpt.mg")
    expected = dict(original, model=dict(original["model"]))  # OrderedDict comes back a dict
    assert_same(expected, loaded)
    assert loaded[0] == "int key zero" and loaded["0"] == "string key zero"
    assert type(loaded["flags"][0]) is bool and type(loaded["flags"][1]) is int
    assert isinstance(loaded["optimizer"]["param_groups"][0]["betas"], tuple)


@pytest.mark.parametrize("value", [None, 3, 2.5, True, "x", [], (1, [2, (3,)]),
                                   np.arange(3, dtype=np.int64)])
def test_round_trip_of_a_bare_value(tmp_path, value):
    save(value, str(tmp_path / "v"))
    assert_same(value, load(str(tmp_path / "v")))


def test_loaded_tensors_are_fresh_cpu_leaves(tmp_path):
    w = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    save({"w": w}, tmp_path / "c")
    out = load(tmp_path / "c")["w"]
    assert isinstance(out, mg.Tensor) and not out.requires_grad and out.dtype == np.float32


def test_file_is_a_documented_npz_and_deterministic(tmp_path):
    save(state(), tmp_path / "a")
    save(state(), tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    with np.load(tmp_path / "a", allow_pickle=False) as archive:
        manifest = json.loads(archive["manifest.json"])
        assert manifest["format"] == "minigrad-checkpoint" and manifest["version"] == 1
        weight = manifest["root"]["items"][0][1]["items"][0]
        assert weight[0] == {"type": "str", "value": "weight"}
        assert weight[1] == {"type": "tensor", "array": "arr_0", "dtype": "float32",
                             "shape": [2, 3]}
        np.testing.assert_array_equal(archive["arr_0"], np.arange(6).reshape(2, 3))


def test_unsupported_type_names_type_and_key_path(tmp_path):
    target = tmp_path / "c"
    with pytest.raises(TypeError) as info:
        save({"optimizer": {"state": [{1, 2}]}}, target)
    assert str(info.value) == "save: unsupported type set at ['optimizer']['state'][0]"
    assert not target.exists() and os.listdir(tmp_path) == []


@pytest.mark.parametrize("obj, match", [
    ({1.5: 0}, r"key type float .* at the top level"),
    ({"a": {True: 0}}, r"key type bool .* at \['a'\]"),
    ({"a": [np.array([object()], dtype=object)]}, r"dtype object at \['a'\]\[0\]"),
    ({"a": np.array(["text"])}, r"dtype <U4 at \['a'\]"),
    (object(), "unsupported type object at the top level"),
    ({"f": len}, r"builtin_function_or_method at \['f'\]"),
])
def test_unsupported_values_and_keys(tmp_path, obj, match):
    with pytest.raises(TypeError, match=match):
        save(obj, tmp_path / "c")
    assert os.listdir(tmp_path) == []


def test_a_container_that_contains_itself_is_refused(tmp_path):
    loop = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match=r"contains itself"):
        save({"x": loop}, tmp_path / "c")
    shared = [1]
    save([shared, shared], tmp_path / "c")  # the same object twice is not a cycle
    assert load(tmp_path / "c") == [[1], [1]]


class Crash(Exception):
    pass


@pytest.mark.parametrize("where", ["write_array", "fsync", "replace", "interrupt"])
def test_crash_during_save_keeps_the_old_checkpoint(tmp_path, monkeypatch, where):
    path = tmp_path / "ckpt.mg"
    save({"epoch": 1, "w": np.ones(3)}, path)
    old_bytes = path.read_bytes()

    calls = []
    real_write_array = np.lib.format.write_array

    def write_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second array: the archive is half written
            raise KeyboardInterrupt if where == "interrupt" else Crash("disk on fire")
        return real_write_array(*args, **kwargs)

    def crash(*args, **kwargs):
        raise Crash(where)

    if where in ("write_array", "interrupt"):
        monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)
    else:
        monkeypatch.setattr(os, where, crash)
    with pytest.raises(KeyboardInterrupt if where == "interrupt" else Crash):
        save({"epoch": 2, "w": np.zeros(3), "b": np.zeros(2)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.mg"]  # no temporary file left behind
    assert path.read_bytes() == old_bytes
    assert load(path)["epoch"] == 1


def test_crash_on_first_save_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        save({"a": np.ones(2)}, tmp_path / "c")
    assert os.listdir(tmp_path) == []


def test_save_replaces_an_existing_checkpoint(tmp_path):
    save({"epoch": 1}, tmp_path / "c")
    save({"epoch": 2}, tmp_path / "c")
    assert load(tmp_path / "c") == {"epoch": 2}
    assert os.listdir(tmp_path) == ["c"]


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope")


@pytest.mark.parametrize("keep", [0, 1, 30, 0.5, -22, -1])
def test_truncated_file_is_a_value_error_naming_the_path(tmp_path, keep):
    path = tmp_path / "ckpt.mg"
    save(state(), path)
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match="ckpt.mg"):
        load(path)


def test_foreign_files_are_value_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some text\n")
    plain_npz = tmp_path / "plain.npz"
    np.savez(plain_npz, a=np.ones(3))
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(3))
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("hello.txt", "hi")
    for path, match in [(text, "not a zip"), (plain_npz, "no manifest.json"),
                        (npy, "not a zip"), (other_zip, "no manifest.json")]:
        with pytest.raises(ValueError, match=match) as info:
            load(path)
        assert str(path) in str(info.value)


def rewrite(path, edit_manifest=None, members=None):
    """Rewrite a checkpoint with its manifest edited and/or members replaced or added."""
    with zipfile.ZipFile(path) as z:
        contents = {name: z.read(name) for name in z.namelist()}
    if edit_manifest is not None:
        manifest = json.loads(contents["manifest.json"])
        edit_manifest(manifest)
        contents["manifest.json"] = json.dumps(manifest).encode()
    contents.update(members or {})
    with zipfile.ZipFile(path, "w") as z:
        for name, data in contents.items():
            z.writestr(name, data)


def first_array_node(manifest):
    return manifest["root"]["items"][0][1]


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(version=2), "version 2.*newer"),
    (lambda m: m.update(version=True), "version True"),
    (lambda m: m.update(version="1"), "version '1'"),
    (lambda m: m.update(format="something-else"), "format 'something-else'"),
    (lambda m: m.pop("root"), "format, version and root"),
    (lambda m: first_array_node(m).update(array="arr_9"), "refers to array 'arr_9'"),
    (lambda m: first_array_node(m).update(array="manifest.json"), "refers to array"),
    (lambda m: first_array_node(m).update(type="pickle"), "unknown type tag 'pickle'"),
    (lambda m: first_array_node(m).update(dtype="float64"), "manifest says float64"),
    (lambda m: first_array_node(m).update(shape=[3]), r"manifest says float32 \[3\]"),
    (lambda m: m["root"]["items"][1][1].update(value="1.5"), "malformed int node"),
    (lambda m: m["root"]["items"][1][0].update(type="float"), "bad dict key"),
    (lambda m: m["root"]["items"].append([1]), "not a .key, value. pair"),
    (lambda m: m.update(root=[]), "unknown type tag None"),
])
def test_tampered_manifest_is_a_value_error(tmp_path, edit, match):
    path = tmp_path / "ckpt.mg"
    save({"w": mg.tensor(np.ones(2, np.float32)), "n": 1}, path)
    rewrite(path, edit)
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("manifest", [b"{not json", b"\xff\xfe", b"[1, 2]", b"[" * 100_000])
def test_unreadable_manifest_is_a_value_error(tmp_path, manifest):
    path = tmp_path / "ckpt.mg"
    save({"n": 1}, path)
    rewrite(path, members={"manifest.json": manifest})
    with pytest.raises(ValueError, match="ckpt.mg"):
        load(path)


class Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_object_array_is_rejected_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt.mg"
    save({"w": np.ones(1)}, path)
    evil = np.array([Payload(marker)], dtype=object)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, evil, allow_pickle=True)
    rewrite(path, lambda m: first_array_node(m).update(dtype="object"),
            members={"arr_0.npy": buffer.getvalue()})
    with pytest.raises(ValueError, match="ckpt.mg"):
        load(path)
    assert not marker.exists()


def test_member_that_is_not_an_array_is_rejected(tmp_path):
    path = tmp_path / "ckpt.mg"
    save({"w": np.ones(1)}, path)
    rewrite(path, members={"arr_0.npy": b"not an npy file at all"})
    with pytest.raises(ValueError, match="ckpt.mg"):
        load(path)


def test_big_endian_members_load_as_native_tensors(tmp_path):
    path = tmp_path / "ckpt.mg"
    save({"w": mg.tensor(np.arange(3, dtype=np.float32))}, path)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.arange(3, dtype=">f4"))  # as a big-endian host saves
    rewrite(path, members={"arr_0.npy": buffer.getvalue()})
    w = load(path)["w"]
    assert w.dtype == np.float32 and w.numpy().dtype.isnative
    np.testing.assert_array_equal(w.numpy(), [0, 1, 2])


# --- issue 8 item 5: loading never eats unbounded memory or time, every failure is a ValueError

def write_zip(path, members, compression=zipfile.ZIP_STORED):
    """A zip of (name, bytes) pairs in order; duplicate names allowed (zipfile only warns)."""
    import warnings
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", compression=compression) as z:
        warnings.simplefilter("ignore")
        for name, data in members:
            z.writestr(name, data)


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def manifest_bytes(root):
    return json.dumps({"format": "minigrad-checkpoint", "version": 1, "root": root}).encode()


def array_node(name, dtype="float32", shape=(2,)):
    return {"type": "ndarray", "array": name, "dtype": dtype, "shape": list(shape)}


def test_device_file_is_refused_without_reading_it():
    with pytest.raises(ValueError, match="/dev/zero.*not a regular file"):
        load("/dev/zero")


def test_fifo_and_folder_are_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    with pytest.raises(ValueError, match="pipe.*not a regular file"):
        load(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        load(tmp_path)


@pytest.mark.parametrize("member", ["manifest.json", "arr_0.npy"])
def test_deflated_members_are_refused(tmp_path, member):
    path = tmp_path / "ckpt.mg"
    zeros = np.zeros(1 << 16, np.float32)  # deflates ~1000x: a small file, a big array
    members = [("manifest.json", manifest_bytes(array_node("arr_0", shape=zeros.shape))),
               ("arr_0.npy", npy_bytes(zeros))]
    write_zip(path, members)
    assert load(path).shape == zeros.shape  # stored: fine
    import warnings
    with zipfile.ZipFile(path) as z:
        contents = [(i.filename, z.read(i)) for i in z.infolist()]
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        for name, data in contents:
            method = zipfile.ZIP_DEFLATED if name == member else zipfile.ZIP_STORED
            z.writestr(name, data, compress_type=method)
    with pytest.raises(ValueError, match=f"ckpt.mg.*{member}.*compressed"):
        load(path)


def test_huge_declared_shape_is_a_value_error_not_memory_error(tmp_path):
    path = tmp_path / "ckpt.mg"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 12,)})
    write_zip(path, [("manifest.json", manifest_bytes(array_node("arr_0", shape=(10 ** 12,)))),
                     ("arr_0.npy", header.getvalue() + b"\0" * 64)])
    with pytest.raises(ValueError, match=r"ckpt.mg.*arr_0.*declares .*10{12}.*holds"):
        load(path)


@pytest.mark.parametrize("duplicate", ["manifest.json", "arr_0.npy"])
def test_duplicate_member_names_are_refused(tmp_path, duplicate):
    path = tmp_path / "ckpt.mg"
    members = {"manifest.json": manifest_bytes(array_node("arr_0")),
               "arr_0.npy": npy_bytes(np.ones(2, np.float32))}
    other = {"manifest.json": manifest_bytes({"type": "none"}),
             "arr_0.npy": npy_bytes(np.zeros(2, np.float32))}
    write_zip(path, list(members.items()) + [(duplicate, other[duplicate])])
    with pytest.raises(ValueError, match=f"ckpt.mg.*{duplicate}.*more than once"):
        load(path)


def test_member_referenced_twice_is_refused(tmp_path):
    path = tmp_path / "ckpt.mg"
    root = {"type": "list", "items": [array_node("arr_0")] * 2000}
    write_zip(path, [("manifest.json", manifest_bytes(root)),
                     ("arr_0.npy", npy_bytes(np.ones(2, np.float32)))])
    with pytest.raises(ValueError, match=r"ckpt.mg.*'arr_0'.*more than once"):
        load(path)


def test_declared_member_sizes_beyond_the_file_are_refused(tmp_path):
    path = tmp_path / "ckpt.mg"
    save({"w": np.ones(1000, np.float32)}, path)
    data = bytearray(path.read_bytes())
    # The central directory entry of arr_0.npy: bump its compressed and uncompressed sizes.
    entry = data.rindex(b"PK\x01\x02")
    assert data[entry + 46:entry + 55] == b"arr_0.npy"
    data[entry + 20:entry + 28] = (10 ** 9).to_bytes(4, "little") * 2
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="ckpt.mg"):
        load(path)


def test_overlapping_members_are_refused(tmp_path):
    """Two central-directory entries pointing at the same bytes: reading each name once would
    still read the file's bytes many times over."""
    path = tmp_path / "ckpt.mg"
    root = {"type": "list", "items": [array_node("arr_0"), array_node("arr_1")]}
    write_zip(path, [("manifest.json", manifest_bytes(root)),
                     ("arr_0.npy", npy_bytes(np.ones(2, np.float32))),
                     ("arr_1.npy", npy_bytes(np.ones(2, np.float32)))])
    data = bytearray(path.read_bytes())
    entries = [i for i in range(len(data)) if data[i:i + 4] == b"PK\x01\x02"]
    offset_of_arr_0 = data[entries[1] + 42:entries[1] + 46]
    data[entries[2] + 42:entries[2] + 46] = offset_of_arr_0  # arr_1 -> arr_0's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="ckpt.mg"):
        load(path)


def test_byte_flips_give_value_error_or_the_right_data(tmp_path):
    """Fuzz: a sample of single-byte corruptions anywhere in a real checkpoint. Each must load
    the original data (a byte nobody reads) or raise ValueError naming the path."""
    original = state()
    path = tmp_path / "ckpt.mg"
    save(original, path)
    data = path.read_bytes()
    expected = dict(original, model=dict(original["model"]))
    rng = np.random.default_rng(0)
    positions = rng.choice(len(data), size=min(300, len(data)), replace=False)
    outcomes = {"value_error": 0, "same": 0}
    for position in positions:
        for flip in (0xFF, int(rng.integers(1, 255))):
            corrupted = bytearray(data)
            corrupted[position] ^= flip
            path.write_bytes(bytes(corrupted))
            try:
                loaded = load(path)
            except ValueError as e:
                assert str(path) in str(e), (position, flip, e)
                outcomes["value_error"] += 1
            else:
                assert_same(expected, loaded)
                outcomes["same"] += 1
    assert outcomes["value_error"] > outcomes["same"] > 0  # both outcomes really happen


# --- issue 8 item 6: interrupted saves, symlinks, FIFOs and long names

KILLED_SAVE = """
import os, sys, time
import numpy as np
import minigrad as mg
def hang(fd):  # the archive is written, not yet renamed: the worst moment to die
    print("writing", flush=True)
    time.sleep(60)
os.fsync = hang
mg.save({"w": np.ones(1 << 18, np.float32), "epoch": int(sys.argv[2])}, sys.argv[1])
"""


def save_killed_mid_write(path, epoch):
    import signal
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path), str(epoch)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


def test_sigkilled_saves_leave_no_growing_pile_of_temp_files(tmp_path):
    path = tmp_path / "ckpt.mg"
    save({"epoch": 0}, path)
    save_killed_mid_write(path, 1)
    leftovers = [n for n in os.listdir(tmp_path) if n != "ckpt.mg"]
    assert len(leftovers) == 1 and os.path.getsize(tmp_path / leftovers[0]) > 1 << 20
    save_killed_mid_write(path, 2)  # its save cleans up the first one, then dies itself
    assert len(os.listdir(tmp_path)) == 2
    assert load(path) == {"epoch": 0}  # the old checkpoint survived both kills
    save({"epoch": 3}, path)
    assert os.listdir(tmp_path) == ["ckpt.mg"]
    assert load(path) == {"epoch": 3}


def test_temp_files_of_other_targets_and_live_saves_are_kept(tmp_path):
    save_killed_mid_write(tmp_path / "other.mg", 1)
    other_leftover = set(os.listdir(tmp_path))
    save({"epoch": 1}, tmp_path / "ckpt.mg")
    assert set(os.listdir(tmp_path)) == other_leftover | {"ckpt.mg"}
    from minigrad import serialization
    prefix = serialization._temp_prefix(str(tmp_path / "ckpt.mg"))
    live = tmp_path / f"{prefix}0000{serialization._TEMP_SUFFIX}"
    with open(live, "wb") as f:  # as a save in progress in another process holds it
        serialization._hold_lock(f)
        save({"epoch": 2}, tmp_path / "ckpt.mg")
        assert live.exists()


def test_saving_through_a_symlink_replaces_its_target(tmp_path):
    real = tmp_path / "real.mg"
    link = tmp_path / "link.mg"
    save({"epoch": 1}, real)
    link.symlink_to(real)
    save({"epoch": 2}, link)
    assert link.is_symlink() and load(real) == {"epoch": 2}
    dangling = tmp_path / "dangling.mg"
    dangling.symlink_to(tmp_path / "new.mg")
    save({"epoch": 3}, dangling)
    assert dangling.is_symlink() and load(tmp_path / "new.mg") == {"epoch": 3}


def test_saving_over_a_fifo_or_folder_is_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"save: .*pipe.* is a FIFO, not a regular file"):
        save({"epoch": 1}, fifo)
    import stat
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    with pytest.raises(ValueError, match=r"symlink's target .*pipe.* is a FIFO"):
        save({"epoch": 1}, link)
    with pytest.raises(ValueError, match=r"is a folder, not a regular file"):
        save({"epoch": 1}, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["link", "pipe"]


def test_the_longest_valid_file_name_can_be_saved(tmp_path):
    name = "c" * os.pathconf(tmp_path, "PC_NAME_MAX")
    save({"epoch": 1}, tmp_path / name)
    assert load(tmp_path / name) == {"epoch": 1}
    assert os.listdir(tmp_path) == [name]
