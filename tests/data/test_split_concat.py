"""random_split, Subset, ConcatDataset, DataLoader(collate_fn=) and the minigrad.utils.data
alias, against torch.utils.data where the numbers are not random (split sizes, index maps,
batch structure) and against the seed where they are."""

import importlib
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import data

torch = pytest.importorskip("torch")
tdata = torch.utils.data


class Range(data.Dataset):
    def __init__(self, n, offset=0):
        self.n, self.offset = n, offset

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i + self.offset

    def __len__(self):
        return self.n


class TRange(tdata.Dataset):
    def __init__(self, n, offset=0):
        self.n, self.offset = n, offset

    def __getitem__(self, i):
        return i + self.offset

    def __len__(self):
        return self.n


@pytest.mark.parametrize("n,lengths", [
    (10, [3, 7]), (10, [0.3, 0.7]), (11, [0.5, 0.5]), (7, [0.2, 0.3, 0.5]), (5, [0.1, 0.9]),
    (13, [1 / 3, 1 / 3, 1 / 3]), (4, [1.0, 0.0]), (6, [2, 2, 2]),
])
def test_random_split_sizes_match_torch_and_partition_the_dataset(n, lengths):
    mg.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty splits warn in both
        ours = data.random_split(Range(n), lengths)
        theirs = tdata.random_split(TRange(n), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    items = sorted(x for s in ours for x in (s[i] for i in range(len(s))))
    assert items == list(range(n))  # every sample exactly once
    assert all(isinstance(s, data.Subset) for s in ours)


def test_random_split_is_reproducible_under_manual_seed():
    def split(seed):
        mg.manual_seed(seed)
        return [list(s.indices) for s in data.random_split(Range(20), [0.5, 0.25, 0.25])]

    assert split(3) == split(3)
    assert split(3) != split(4)
    a = data.random_split(Range(20), [10, 10], generator=np.random.default_rng(1))
    b = data.random_split(Range(20), [10, 10], generator=np.random.default_rng(1))
    assert a[0].indices == b[0].indices


def test_random_split_errors_as_torch():
    for split, ds in ((data.random_split, Range(10)), (tdata.random_split, TRange(10))):
        with pytest.raises(ValueError, match="(?i)sum of input lengths"):
            split(ds, [3, 4])
        with pytest.raises(ValueError, match="(?i)not between 0 and 1"):
            split(ds, [1.5, -0.5])
    with pytest.warns(UserWarning, match="index 1 is 0"):
        data.random_split(Range(3), [1.0, 0.0])


def test_subset_indexing_matches_torch():
    idx = [4, 0, 4, 2]
    ours, theirs = data.Subset(Range(5, 10), idx), tdata.Subset(TRange(5, 10), idx)
    assert len(ours) == len(theirs) == 4
    assert [ours[i] for i in range(4)] == [theirs[i] for i in range(4)]
    assert ours.__getitems__([0, 3]) == theirs.__getitems__([0, 3]) == [14, 12]
    assert ours[-1] == theirs[-1]
    # A list index goes to the dataset as one list: a TensorDataset returns batched tensors.
    x = np.arange(10.0).reshape(5, 2)
    ours = data.Subset(data.TensorDataset(mg.tensor(x), mg.arange(5)), idx)
    theirs = tdata.Subset(tdata.TensorDataset(torch.tensor(x), torch.arange(5)), idx)
    for a, b in zip(ours[[1, 3, 0]], theirs[[1, 3, 0]], strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_concat_dataset_matches_torch():
    ds = [Range(3), Range(0), Range(4, 100), Range(2, 50)]
    tds = [TRange(3), TRange(0), TRange(4, 100), TRange(2, 50)]
    ours, theirs = data.ConcatDataset(ds), tdata.ConcatDataset(tds)
    assert len(ours) == len(theirs) == 9
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    with pytest.raises(ValueError, match="should not exceed"):
        ours[-10]
    with pytest.raises(IndexError):
        ours[9]
    with pytest.raises(ValueError, match="empty"):
        data.ConcatDataset([])
    both = Range(2) + Range(3, 10)
    assert isinstance(both, data.ConcatDataset) and [both[i] for i in range(5)] == [0, 1, 10, 11, 12]


def test_loader_over_split_and_concat_of_tensor_datasets():
    x = mg.arange(12).reshape(6, 2).float()
    y = mg.arange(6)
    ds = data.TensorDataset(x, y)
    mg.manual_seed(0)
    train, test = data.random_split(ds, [4, 2])
    loader = data.DataLoader(data.ConcatDataset([train, test]), batch_size=4)
    batches = list(loader)
    assert [tuple(b[0].shape) for b in batches] == [(4, 2), (2, 2)]
    labels = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(labels, np.array(train.indices + test.indices))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]),
                                  x.numpy()[labels])


def test_collate_fn_receives_the_list_of_samples_like_torch():
    def pad_collate(samples, lib):
        longest = max(len(s) for s, _ in samples)
        padded = [list(s) + [0] * (longest - len(s)) for s, _ in samples]
        return lib.tensor(padded), lib.tensor([label for _, label in samples])

    seqs = [([1, 2, 3], 0), ([4], 1), ([5, 6], 0), ([7, 8, 9, 10], 1), ([11], 0)]
    ours = list(data.DataLoader(seqs, batch_size=2, collate_fn=lambda b: pad_collate(b, mg)))
    theirs = list(tdata.DataLoader(seqs, batch_size=2, collate_fn=lambda b: pad_collate(b, torch)))
    assert len(ours) == len(theirs) == 3
    for (a, la), (b, lb) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(la.numpy(), lb.numpy())
    # The TensorDataset fast path must not bypass a user's collate_fn.
    seen = []
    ds = data.TensorDataset(mg.arange(5), mg.arange(5) * 2)
    out = list(data.DataLoader(ds, batch_size=2, collate_fn=lambda b: seen.append(b) or len(b)))
    assert out == [2, 2, 1] and len(seen) == 3 and isinstance(seen[0][0], tuple)
    # default_collate is what a collate_fn can fall back on
    xs, ys = data.default_collate([(mg.tensor([1.0]), 3), (mg.tensor([2.0]), 4)])
    assert xs.shape == (2, 1) and ys.tolist() == [3, 4]
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        data.DataLoader(ds, collate_fn=5)


def test_minigrad_utils_data_is_minigrad_data():
    mod = importlib.import_module("minigrad.utils.data")
    assert mod is mg.data is mg.utils.data
    from minigrad.utils.data import DataLoader, TensorDataset, random_split  # noqa: F401

    loader = DataLoader(TensorDataset(mg.arange(5)), batch_size=2)
    assert loader.dataset is not None and loader.batch_size == 2
