"""DataLoader and TensorDataset: batching, len, drop_last, seeded shuffling, the generic
(collate) path against the TensorDataset fast path, and argument errors."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import random as mg_random
from minigrad.data import DataLoader, Dataset, TensorDataset


def make_dataset(n=10):
    x = mg.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = mg.tensor(np.arange(n, dtype=np.int64))
    return TensorDataset(x, y)


def labels_seen(loader):
    """Concatenate the label component of every batch of one epoch."""
    return np.concatenate([y.numpy() for _, y in loader]).tolist()


def test_batches_are_tuples_of_tensors_in_order():
    ds = make_dataset(10)
    batches = list(DataLoader(ds, batch_size=4))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    for i, batch in enumerate(batches):
        assert isinstance(batch, tuple) and len(batch) == 2
        x, y = batch
        assert isinstance(x, mg.Tensor) and isinstance(y, mg.Tensor)
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x.numpy(), ds.tensors[0].numpy()[4 * i:4 * i + 4])
        np.testing.assert_array_equal(y.numpy(), np.arange(4 * i, min(4 * i + 4, 10)))


@pytest.mark.parametrize("n, batch_size, drop_last, expected", [
    (10, 1, False, 10), (10, 3, False, 4), (10, 3, True, 3), (9, 3, False, 3),
    (9, 3, True, 3), (2, 5, False, 1), (2, 5, True, 0), (0, 4, False, 0),
])
def test_len_is_number_of_batches(n, batch_size, drop_last, expected):
    loader = DataLoader(make_dataset(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == expected
    assert len(list(loader)) == expected


def test_drop_last_drops_only_the_short_batch():
    loader = DataLoader(make_dataset(10), batch_size=4, drop_last=True)
    assert [len(y) for _, y in loader] == [4, 4]
    assert labels_seen(loader) == list(range(8))


def test_shuffle_is_reproducible_under_manual_seed_and_differs_across_seeds():
    loader = DataLoader(make_dataset(50), batch_size=7, shuffle=True)
    mg.manual_seed(0)
    first = labels_seen(loader)
    mg.manual_seed(0)
    assert labels_seen(loader) == first
    mg.manual_seed(1)
    assert labels_seen(loader) != first
    assert first != list(range(50))


def test_each_epoch_is_a_new_permutation_with_every_sample_exactly_once():
    mg.manual_seed(3)
    loader = DataLoader(make_dataset(23), batch_size=5, shuffle=True)
    epochs = [labels_seen(loader) for _ in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(23))
    assert epochs[0] != epochs[1]


def test_shuffle_with_drop_last_never_repeats_a_sample():
    mg.manual_seed(0)
    seen = labels_seen(DataLoader(make_dataset(23), batch_size=5, shuffle=True, drop_last=True))
    assert len(seen) == 20 and len(set(seen)) == 20


def test_without_shuffle_the_generator_is_not_touched():
    mg.manual_seed(5)
    list(DataLoader(make_dataset(10), batch_size=3))
    after_loader = mg_random.generator().random()
    mg.manual_seed(5)
    assert mg_random.generator().random() == after_loader


class Augmented(TensorDataset):
    """Overrides __getitem__, so the loader must fetch samples one by one."""

    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        return x, y


def test_generic_path_matches_tensordataset_fast_path():
    ds = make_dataset(11)
    slow = Augmented(*ds.tensors)
    for a, b in zip(DataLoader(ds, batch_size=4), DataLoader(slow, batch_size=4), strict=True):
        for ta, tb in zip(a, b, strict=True):
            assert isinstance(tb, mg.Tensor) and tb.dtype == ta.dtype and tb.shape == ta.shape
            np.testing.assert_array_equal(ta.numpy(), tb.numpy())


class Squares(Dataset):
    """Samples of numpy arrays and Python numbers, as a hand-written dataset returns them."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full((2, 2), i, dtype=np.float32), i, i * 0.5


def test_generic_path_collates_arrays_and_numbers():
    batches = list(DataLoader(Squares(), batch_size=3))
    assert [len(b) for b in batches] == [3, 3]
    x, label, half = batches[0]
    assert tuple(x.shape) == (3, 2, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy()[:, 0, 0], [0, 1, 2])
    assert label.dtype == np.int64 and label.numpy().tolist() == [0, 1, 2]
    assert half.dtype == np.float64 and half.numpy().tolist() == [0.0, 0.5, 1.0]
    assert tuple(batches[1][0].shape) == (2, 2, 2)


class Single(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return mg.tensor([float(i), -float(i)])


def test_a_sample_that_is_not_a_tuple_is_one_component():
    batches = list(DataLoader(Single(), batch_size=3))
    assert [len(b) for b in batches] == [1, 1]
    np.testing.assert_array_equal(batches[1][0].numpy(), [[3.0, -3.0]])


def test_tensordataset_rejects_mismatched_first_dimensions():
    with pytest.raises(ValueError, match=r"first dimension.*\(10, 3\).*\(9,\)"):
        TensorDataset(mg.tensor(np.zeros((10, 3))), mg.tensor(np.zeros(9)))


def test_tensordataset_rejects_nothing_and_scalars():
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(mg.tensor(1.0))


def test_tensordataset_indexing_and_len():
    ds = make_dataset(6)
    assert len(ds) == 6
    x, y = ds[2]
    np.testing.assert_array_equal(x.numpy(), [6.0, 7.0, 8.0])
    assert int(y.numpy()) == 2


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                        (True, TypeError), ("4", TypeError)])
def test_batch_size_is_validated(bad, error):
    with pytest.raises(error, match="batch_size"):
        DataLoader(make_dataset(4), batch_size=bad)


def test_base_dataset_says_what_to_implement():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())
