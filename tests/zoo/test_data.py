"""zoo.data: digits, the offline CIFAR-10 directory, a TFDS prepared dataset written here, augmentation, errors."""
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from zoo import data
from zoo.errors import ZooError

CIFAR_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cifar10_jpeg"
needs_cifar = pytest.mark.skipif(
    not (CIFAR_DIR / "1.0.0" / "dataset_info.json").is_file(),
    reason=f"offline CIFAR-10 copy not found at {CIFAR_DIR} (only present next to the shared workspace)")


def collect(ds):
    """All batches of a pipeline as (x, y) NumPy arrays."""
    xs, ys = zip(*ds.as_numpy_iterator())
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture(scope="module")
def digits_np():
    d = load_digits()
    return (d.images / 16.0).astype(np.float32)[..., None], d.target


# ------------------------------------------------------------------------------------------------ digits


def test_digits_batches_shapes_range_and_counts():
    ds = data.load("digits", "train", batch_size=100)
    assert ds.element_spec[0].shape.as_list() == [None, 8, 8, 1]
    assert ds.element_spec[0].dtype == tf.float32 and ds.element_spec[1].dtype == tf.int32
    x, y = collect(ds)
    assert x.shape == (1437, 8, 8, 1) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() == 1.0  # 16/16 occurs
    assert y.dtype == np.int32 and set(np.unique(y)) == set(range(10))
    first = next(iter(ds))[0]
    assert first.shape == (100, 8, 8, 1)
    x_test, _ = collect(data.load("digits", "test", batch_size=1000))
    assert len(x_test) == 360


def test_digits_split_is_the_file_order_80_20(digits_np):
    images, labels = digits_np
    x, y = collect(data.load("digits", "train", shuffle=False, batch_size=512))
    np.testing.assert_array_equal(x, images[:1437])
    np.testing.assert_array_equal(y, labels[:1437])
    x, y = data.as_numpy("digits", "test", 1000)  # fewer than n exist: all 360
    np.testing.assert_array_equal(x, images[1437:])
    np.testing.assert_array_equal(y, labels[1437:])


@pytest.mark.parametrize("split, lo, hi", [
    ("train[:200]", 0, 200), ("test[10:50]", 1437 + 10, 1437 + 50), ("train[-5:]", 1432, 1437),
    ("train[:10%]", 0, 144), ("test[50%:]", 1437 + 180, 1797)])
def test_digits_slices(split, lo, hi, digits_np):
    images, labels = digits_np
    x, y = collect(data.load("digits", split, shuffle=False, batch_size=64))
    assert len(x) == hi - lo
    np.testing.assert_array_equal(x, images[lo:hi])
    np.testing.assert_array_equal(y, labels[lo:hi])


def test_shuffle_defaults_seed_and_reshuffle(digits_np):
    _, labels = digits_np
    train = data.load("digits", "train[:300]", batch_size=300)  # shuffled by default
    y1, y2 = collect(train)[1], collect(train)[1]
    assert not np.array_equal(y1, labels[:300])
    assert sorted(y1) == sorted(labels[:300])  # a permutation
    assert not np.array_equal(y1, y2)  # reshuffled every epoch
    again = collect(data.load("digits", "train[:300]", batch_size=300))[1]
    np.testing.assert_array_equal(again, y1)  # same seed, same order
    other = collect(data.load("digits", "train[:300]", batch_size=300, seed=1))[1]
    assert not np.array_equal(other, y1)
    np.testing.assert_array_equal(collect(data.load("digits", "test"))[1], labels[1437:])  # test: not shuffled


def test_num_examples_takes_the_first_n_before_shuffling(digits_np):
    images, _ = digits_np
    x, _ = collect(data.load("digits", "train", num_examples=50, batch_size=16, shuffle=True))
    assert len(x) == 50
    got = sorted(map(bytes, x.reshape(50, -1)))
    assert got == sorted(map(bytes, images[:50].reshape(50, -1)))
    x, _ = collect(data.load("digits", "train", num_examples=50, batch_size=16, drop_remainder=True))
    assert len(x) == 48


def test_digits_info(digits_np):
    images, _ = digits_np
    i = data.info("digits")
    assert (i.name, i.num_classes, i.input_shape) == ("digits", 10, (8, 8, 1))
    assert i.splits == {"train": 1437, "test": 360}
    assert i.mean[0] == pytest.approx(images[:1437].mean(), abs=1e-6)
    assert i.std[0] == pytest.approx(images[:1437].std(), abs=1e-6)


def test_info_for_tfds_names_needs_no_download():
    c = data.info("cifar10")
    assert (c.num_classes, c.input_shape, c.splits) == (10, (32, 32, 3), {"train": 50000, "test": 10000})
    assert c.mean == (0.4914, 0.4822, 0.4465) and c.std == (0.2470, 0.2435, 0.2616)
    m = data.info("mnist")
    assert (m.input_shape, len(m.mean), len(m.std)) == ((28, 28, 1), 1, 1)
    assert "extra" in data.info("svhn_cropped").splits


# ------------------------------------------------------------------------------------------------ augmentation


def crop_matches(aug, original, pad=4):
    """The (dy, dx, flipped) placements of `aug` inside the zero-padded `original`, by brute force."""
    h, w = original.shape[:2]
    padded = np.pad(original, [(pad, pad), (pad, pad), (0, 0)])
    hits = []
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[dy:dy + h, dx:dx + w]
            for flipped, candidate in ((False, crop), (True, crop[:, ::-1])):
                if np.array_equal(aug, candidate):
                    hits.append((dy, dx, flipped))
    return hits


def test_augment_image_is_a_padded_crop_maybe_flipped():
    rng = np.random.default_rng(0)
    image = tf.constant(rng.random((32, 32, 3)), tf.float32)  # random noise: the placement is unique
    placements = set()
    for s in range(12):
        out = data.augment_image(image, tf.constant([s, 7], tf.int64)).numpy()
        assert out.shape == (32, 32, 3) and out.min() >= 0.0 and out.max() <= 1.0
        hits = crop_matches(out, image.numpy())
        assert len(hits) == 1, hits
        placements.add(hits[0])
        np.testing.assert_array_equal(out, data.augment_image(image, tf.constant([s, 7], tf.int64)).numpy())
    assert len(placements) >= 6  # the offsets and flips do vary
    assert any(p[2] for p in placements) and not all(p[2] for p in placements)


def test_augment_offsets_cover_the_full_4_pixel_padding():
    rng = np.random.default_rng(1)
    image = rng.random((6, 6, 1)).astype(np.float32)
    placements = set()
    for s in range(80):
        hits = crop_matches(data.augment_image(tf.constant(image), tf.constant([s, 0], tf.int64)).numpy(), image)
        assert len(hits) == 1
        placements.add(hits[0])
    # offsets 0..8 on both axes: a 4-pixel padding (3 pixels would only reach 1..7)
    assert {p[0] for p in placements} == set(range(9)) and {p[1] for p in placements} == set(range(9))


def test_augmented_digits_are_crops_and_reproducible(digits_np):
    images, _ = digits_np
    ds = data.load("digits", "train[:64]", augment=True, shuffle=False, batch_size=64, seed=5)
    x1 = collect(ds)[0]
    assert x1.shape == (64, 8, 8, 1) and x1.dtype == np.float32 and x1.min() >= 0 and x1.max() <= 1
    for k in range(8):
        assert crop_matches(x1[k], images[k]), f"example {k} is no padded crop of its original"
    assert sum(not np.array_equal(a, b) for a, b in zip(x1, images[:64])) > 32
    x2 = collect(data.load("digits", "train[:64]", augment=True, shuffle=False, batch_size=64, seed=5))[0]
    np.testing.assert_array_equal(x1, x2)  # same seed, same output
    assert not np.array_equal(collect(ds)[0], x1)  # a new draw every epoch
    x3 = collect(data.load("digits", "train[:64]", augment=True, shuffle=False, batch_size=64, seed=6))[0]
    assert not np.array_equal(x3, x1)


# ------------------------------------------------------------------------------------------------ a prepared dataset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A TFDS prepared dataset (train 15, test 5 random 32x32x3 images, 5 classes) written with
    tfds.dataset_builders.store_as_tfds_dataset, no network."""
    tfds = pytest.importorskip("tensorflow_datasets")
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 5, 20)
    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(32, 32, 3)), "label": tfds.features.ClassLabel(num_classes=5)})

    def examples(lo, hi):
        return [(i, {"image": images[i], "label": int(labels[i])}) for i in range(lo, hi)]

    root = tmp_path_factory.mktemp("tfds")
    with pytest.MonkeyPatch.context() as mp:
        try:
            importlib.import_module("importlib_resources")
        except ModuleNotFoundError:
            # tfds 4.9.10 uses importlib_resources while preparing but only declares it for Python < 3.9
            # (tensorflow/datasets#11212); the standard library module has the same Traversable.
            importlib.import_module("importlib.resources.abc")
            mp.setitem(sys.modules, "importlib_resources", importlib.import_module("importlib.resources"))
        tfds.dataset_builders.store_as_tfds_dataset(
            name="tiny_ds", version="1.0.0", features=features, data_dir=str(root), disable_shuffling=True,
            split_datasets={"train": examples(0, 15), "test": examples(15, 20)})
    return root / "tiny_ds", images, labels


def test_prepared_dataset_values_match_what_was_written(tiny):
    parent, images, labels = tiny
    for path in (parent / "1.0.0", parent, str(parent) + "/"):
        x, y = collect(data.load(path, "train", shuffle=False, batch_size=8))
        np.testing.assert_array_equal(x, images[:15].astype(np.float32) / 255)  # exactly v/255
        np.testing.assert_array_equal(y, labels[:15])
    x, y = data.as_numpy(str(parent), "test[1:4]", 10)
    np.testing.assert_array_equal(x, images[16:19].astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels[16:19])
    x, y = collect(data.load(str(parent), "train", batch_size=15, augment=True))  # shuffled + augmented
    assert sorted(y) == sorted(labels[:15])
    for k in range(4):  # each output is a padded crop (maybe flipped) of one of the inputs with its label
        candidates = images[:15][labels[:15] == y[k]].astype(np.float32) / 255
        assert any(crop_matches(x[k], c) for c in candidates)


def test_prepared_dataset_info(tiny):
    parent, _, _ = tiny
    i = data.info(str(parent))
    assert (i.name, i.num_classes, i.input_shape) == ("tiny_ds", 5, (32, 32, 3))
    assert i.splits == {"train": 15, "test": 5}
    assert i.mean == (0.5, 0.5, 0.5) and i.std == (0.25, 0.25, 0.25)


def test_parent_directory_picks_the_highest_version(tmp_path):
    for version in ("0.9.0", "1.10.0", "1.2.0"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "dataset_info.json").write_text(json.dumps({}))
    (tmp_path / "9.9.9").mkdir()  # no dataset_info.json: not a candidate
    assert Path(data.resolve_directory(str(tmp_path))).name == "1.10.0"


# ------------------------------------------------------------------------------------------------ offline CIFAR-10


@needs_cifar
def test_cifar_version_and_parent_directory_load_the_same():
    a = data.load(str(CIFAR_DIR / "1.0.0"), "test[:64]", batch_size=32)
    b = data.load(str(CIFAR_DIR), "test[:64]", batch_size=32)
    assert a.element_spec[0].shape.as_list() == [None, 32, 32, 3]
    xa, ya = collect(a)
    xb, yb = collect(b)
    assert xa.shape == (64, 32, 32, 3) and xa.dtype == np.float32
    assert xa.min() >= 0 and xa.max() <= 1 and xa.std() > 0.1
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(ya[:10], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1])  # CIFAR-10 test order
    assert np.array_equal(xa * 255, np.round(xa * 255))  # decoded uint8 / 255


@needs_cifar
def test_cifar_num_examples_and_train_order():
    x, y = collect(data.load(str(CIFAR_DIR), "train", num_examples=64, batch_size=50, augment=True))
    assert x.shape == (64, 32, 32, 3) and x.min() >= 0 and x.max() <= 1
    _, first = data.as_numpy(str(CIFAR_DIR), "train", 40)
    np.testing.assert_array_equal(first[:10], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3])  # CIFAR-10 train order
    # TFDS by default interleaves the 4 train shards in blocks of 16; "the first N" must be ids 0..N-1.
    tfds = pytest.importorskip("tensorflow_datasets")
    raw = tfds.builder_from_directory(str(CIFAR_DIR / "1.0.0")).as_dataset(split="train").take(160)
    label_of = {ex["id"].decode(): int(ex["label"]) for ex in raw.as_numpy_iterator()}
    np.testing.assert_array_equal(first, [label_of[f"train_{i:05d}"] for i in range(40)])


@needs_cifar
def test_cifar_info():
    i = data.info(str(CIFAR_DIR / "1.0.0"))
    assert (i.name, i.num_classes, i.input_shape) == ("cifar10_jpeg", 10, (32, 32, 3))
    assert i.splits == {"train": 50000, "test": 10000}
    assert i.mean == data.CIFAR10_MEAN and i.std == data.CIFAR10_STD


# ------------------------------------------------------------------------------------------------ errors


def error_of(capsys, fn, *args, **kwargs):
    with pytest.raises(ZooError) as excinfo:
        fn(*args, **kwargs)
    message = str(excinfo.value)
    assert "\n" not in message
    assert capsys.readouterr().out == ""
    return message


def test_error_unknown_name(capsys):
    m = error_of(capsys, data.load, "foo")
    assert m == ("unknown dataset 'foo': expected one of cifar10, digits, imagenet2012, imagenette, "
                 "imagenette/160px-v2, imagenette/320px-v2, mnist, svhn_cropped, or a TFDS prepared-dataset directory")
    assert error_of(capsys, data.info, "foo") == m


def test_error_missing_and_unprepared_directory(capsys, tmp_path):
    missing = str(tmp_path / "x" / "y")
    assert error_of(capsys, data.load, missing) == f"dataset directory {missing!r} does not exist"
    (tmp_path / "1.0.0").mkdir()
    m = error_of(capsys, data.load, str(tmp_path))
    assert repr(str(tmp_path)) in m and "dataset_info.json" in m and "not a TFDS prepared dataset" in m


def test_error_bad_split(capsys, tiny):
    parent, _, _ = tiny
    m = error_of(capsys, data.load, str(parent), "valid")
    assert m == "split 'valid' not in dataset 'tiny_ds': available splits are test, train"
    assert error_of(capsys, data.load, "digits", "valid[:10]") == (
        "split 'valid' not in dataset 'digits': available splits are test, train")
    assert "extra, test, train" in error_of(capsys, data.load, "svhn_cropped", "valid")
    assert "'a'" in error_of(capsys, data.load, "digits", "train[a:]")


@needs_cifar
def test_error_bad_split_cifar(capsys):
    assert error_of(capsys, data.load, str(CIFAR_DIR), "valid") == (
        "split 'valid' not in dataset 'cifar10_jpeg': available splits are test, train")


@pytest.mark.parametrize("kwargs, text", [
    (dict(batch_size=0), "batch_size=0 is invalid: expected an integer >= 1"),
    (dict(batch_size=2.5), "batch_size=2.5 is invalid: expected an integer >= 1"),
    (dict(num_examples=0), "num_examples=0 is invalid: expected an integer >= 1")])
def test_error_bad_flags(capsys, kwargs, text):
    assert error_of(capsys, data.load, "digits", **kwargs) == text
