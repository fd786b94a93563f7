"""Input pipelines: batched ``tf.data`` datasets of float32 images in [0,1] and int32 labels.

Three sources, chosen by the ``dataset`` string:

* ``"digits"``: scikit-learn's bundled 8x8 digits (``sklearn.datasets.load_digits``), the offline
  default. Split in file order: "train" = first 1437 examples, "test" = last 360 (80/20).
* a TFDS name from ``TFDS_NAMES`` (``tfds.load``; downloads on first use, needs network).
* a TFDS prepared-dataset directory (``tfds.builder_from_directory``), either the version directory
  holding ``dataset_info.json`` or its parent (highest version wins), e.g. the offline CIFAR-10 copy
  ``../shared/data/cifar10_jpeg/1.0.0``.

Images reach the model in [0,1]; normalisation is the model's first layer (PNI sec. 4.1), which is
why ``info()`` reports per-channel mean/std instead of applying them here.
"""
import dataclasses
import functools
import os
import re

import numpy as np
import tensorflow as tf

from zoo.errors import ZooError, choice_error

DIGITS = "digits"
TFDS_NAMES = ("cifar10", "svhn_cropped", "mnist")

# Published per-channel statistics of the training sets, on [0,1] pixels.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
SVHN_MEAN = (0.4377, 0.4438, 0.4728)
SVHN_STD = (0.1980, 0.2010, 0.1970)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)

# What info() knows about TFDS names without downloading anything.
_TFDS_TABLE = {
    "cifar10": dict(num_classes=10, input_shape=(32, 32, 3), splits={"train": 50000, "test": 10000},
                    mean=CIFAR10_MEAN, std=CIFAR10_STD),
    "svhn_cropped": dict(num_classes=10, input_shape=(32, 32, 3),
                         splits={"train": 73257, "test": 26032, "extra": 531131}, mean=SVHN_MEAN, std=SVHN_STD),
    "mnist": dict(num_classes=10, input_shape=(28, 28, 1), splits={"train": 60000, "test": 10000},
                  mean=MNIST_MEAN, std=MNIST_STD),
}

_DIGITS_TRAIN = 1437  # first 1437 of 1797 = 80 %, the rest (360) is "test"
_DIGITS_SCALE = 16.0  # load_digits pixel values are 0..16
_SHUFFLE_BUFFER = 10000
_PAD = 4  # CIFAR augmentation: 4 zero pixels on each side, then a random crop back to HxW
_SPLIT_RE = re.compile(r"^\s*([A-Za-z_][\w\-]*)\s*(?:\[(.*)\])?\s*$")
_BOUND_RE = re.compile(r"^\s*(-?\d+)\s*(%?)\s*$")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model and a trainer need to know about a dataset (no data is read for TFDS names)."""

    name: str
    num_classes: int
    input_shape: tuple  # (H, W, C)
    splits: dict  # split name -> number of examples
    mean: tuple  # per channel, on [0,1] pixels
    std: tuple


# --------------------------------------------------------------------------------------------- usage checks


def _check_int(flag, value, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ZooError(f"{flag}={value!r} is invalid: expected an integer >= {minimum}")
    return int(value)


def _split_parts(split):
    """'train[:10]+test' -> [('train', ':10'), ('test', None)]; ZooError for anything unparsable."""
    if not isinstance(split, str) or not split.strip():
        raise ZooError(f"split {split!r} is invalid: expected a split name such as 'train' or 'test[:100]'")
    parts = []
    for piece in split.split("+"):
        match = _SPLIT_RE.match(piece)
        if not match:
            raise ZooError(f"split {split!r} is invalid: expected a name with an optional [start:end] slice, "
                           "e.g. 'train[:200]'")
        parts.append((match.group(1), match.group(2)))
    return parts


def _check_split(split, dataset_name, available):
    """Every base split name (before any [...] slice) must exist: PNI/ANP report train and test only."""
    for base, _ in _split_parts(split):
        if base not in available:
            raise ZooError(f"split {base!r} not in dataset {dataset_name!r}: available splits are "
                           f"{', '.join(sorted(available))}")


def _slice_bounds(split, base, slice_text, n):
    """TFDS-style [start:end] on n examples (integers, negative integers or percents) -> (start, end)."""
    if slice_text is None:
        return 0, n
    bounds = slice_text.split(":")
    if len(bounds) != 2:
        raise ZooError(f"split {split!r} has an invalid slice [{slice_text}]: expected [start:end], e.g. "
                       f"'{base}[:200]' or '{base}[10%:]'")
    out = []
    for text, default in zip(bounds, (0, n)):
        if not text.strip():
            out.append(default)
            continue
        match = _BOUND_RE.match(text)
        if not match:
            raise ZooError(f"split {split!r} has an invalid slice bound {text.strip()!r}: expected an integer "
                           "or a percent such as 10%")
        value = int(match.group(1))
        if match.group(2):  # percent, rounded to the closest example like TFDS
            value = int(round(n * value / 100.0))
        if value < 0:
            value += n
        out.append(min(max(value, 0), n))
    return out[0], max(out[0], out[1])


# --------------------------------------------------------------------------------------------- sources


def _tfds():
    import tensorflow_datasets as tfds  # imported on demand: digits users need no TFDS

    return tfds


def _kind(dataset):
    """'digits', 'tfds' or 'dir' (with the path); ZooError for a name that is none of them."""
    if isinstance(dataset, os.PathLike):
        return "dir", os.fspath(dataset)
    if not isinstance(dataset, str):
        raise ZooError(f"dataset {dataset!r} is invalid: expected a name or a directory path")
    if dataset == DIGITS:
        return DIGITS, dataset
    if dataset in TFDS_NAMES:
        return "tfds", dataset
    if os.sep in dataset or "/" in dataset or dataset.startswith(".") or os.path.exists(dataset):
        return "dir", dataset
    err = choice_error("dataset", dataset, (DIGITS,) + TFDS_NAMES)
    raise ZooError(f"{err}, or a TFDS prepared-dataset directory")


def _version_key(name):
    try:
        return (1, tuple(int(p) for p in name.split(".")))
    except ValueError:
        return (0, (name,))


def resolve_directory(path):
    """The directory holding dataset_info.json: ``path`` itself, or its highest version subdirectory."""
    shown = path
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise ZooError(f"dataset directory {shown!r} does not exist")
    if os.path.isfile(path) and os.path.basename(path) == "dataset_info.json":
        path = os.path.dirname(path) or "."
    if not os.path.isdir(path):
        raise ZooError(f"dataset directory {shown!r} is a file, not a TFDS prepared-dataset directory")
    if os.path.isfile(os.path.join(path, "dataset_info.json")):
        return path
    versions = [entry for entry in os.listdir(path)
                if os.path.isfile(os.path.join(path, entry, "dataset_info.json"))]
    if not versions:
        raise ZooError(f"dataset directory {shown!r} is not a TFDS prepared dataset: no dataset_info.json in it "
                       "or in a version subdirectory (e.g. 1.0.0/)")
    return os.path.join(path, max(versions, key=_version_key))


def _builder(path):
    return _tfds().builder_from_directory(resolve_directory(path))


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    """(images uint8 [1797,8,8,1] with values 0..16, labels int64 [1797]) in the file's order."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _digits_split_indices(split):
    images, _ = _digits_arrays()
    ranges = {"train": (0, _DIGITS_TRAIN), "test": (_DIGITS_TRAIN, len(images))}
    _check_split(split, DIGITS, ranges)
    indices = []
    for base, slice_text in _split_parts(split):
        lo, hi = ranges[base]
        start, end = _slice_bounds(split, base, slice_text, hi - lo)
        indices.append(np.arange(lo + start, lo + end))
    return np.concatenate(indices)


def _image_label_keys(builder):
    keys = builder.info.supervised_keys
    if isinstance(keys, (tuple, list)) and len(keys) == 2 and all(isinstance(k, str) for k in keys):
        return tuple(keys)
    features = builder.info.features
    if "image" in features and "label" in features:
        return "image", "label"
    raise ZooError(f"dataset {builder.info.name!r} has no supervised keys and no 'image'/'label' features "
                   f"(features: {', '.join(sorted(features.keys()))})")


def _read_config(shuffle_files, seed):
    tfds = _tfds()
    if shuffle_files:
        return tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)
    # Unshuffled: read the shards one after the other, i.e. in the stored order, so that
    # num_examples / as_numpy mean "the first N examples of the split".
    return tfds.ReadConfig(interleave_cycle_length=1, try_autocache=False)


def _open(dataset, split, data_dir, shuffle_files, seed):
    """(tf.data of (uint8 image [H,W,C], integer label), pixel scale, (H,W,C))."""
    kind, value = _kind(dataset)
    if kind == DIGITS:
        images, labels = _digits_arrays()
        idx = _digits_split_indices(split)
        ds = tf.data.Dataset.from_tensor_slices((images[idx], labels[idx]))
        return ds, _DIGITS_SCALE, images.shape[1:]
    if kind == "tfds":
        _check_split(split, value, _TFDS_TABLE[value]["splits"])
        tfds = _tfds()
        try:
            ds = tfds.load(value, split=split, as_supervised=True, data_dir=data_dir, shuffle_files=shuffle_files,
                           read_config=_read_config(shuffle_files, seed))
        except ModuleNotFoundError as e:  # tensorflow/datasets#11212: undeclared dependency on Python >= 3.9
            if e.name != "importlib_resources":
                raise
            raise ZooError(f"tensorflow-datasets needs the package importlib_resources to prepare {value!r} "
                           "(tensorflow/datasets#11212): pip install importlib_resources") from e
        return ds, 255.0, _TFDS_TABLE[value]["input_shape"]
    builder = _builder(value)
    _check_split(split, builder.info.name, builder.info.splits.keys())
    image_key, label_key = _image_label_keys(builder)
    shape = tuple(builder.info.features[image_key].shape)
    if len(shape) != 3 or any(d is None for d in shape):
        raise ZooError(f"dataset {builder.info.name!r} has images of shape {shape}: expected a fixed (H, W, C)")
    if builder.info.disable_shuffling:  # an ordered dataset: TFDS refuses shuffle_files=True for it
        shuffle_files = False
    if builder.info.supervised_keys == (image_key, label_key):
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=shuffle_files,
                                read_config=_read_config(shuffle_files, seed))
    else:
        ds = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=_read_config(shuffle_files, seed))
        ds = ds.map(lambda ex: (ex[image_key], ex[label_key]), num_parallel_calls=tf.data.AUTOTUNE)
    return ds, 255.0, shape


# --------------------------------------------------------------------------------------------- pipeline


def augment_image(image, seed):
    """Standard CIFAR augmentation (He et al. 2016 sec. 4.2, used for training in PNI sec. 4.1): zero-pad 4
    pixels on each side, crop back to HxW at a random offset (9x9 possible), flip left-right with probability
    1/2. Stateless: ``seed`` (integer tensor of shape [2]) fixes the result."""
    height, width, channels = image.shape
    seed = tf.cast(seed, tf.int64)
    padded = tf.pad(image, [[_PAD, _PAD], [_PAD, _PAD], [0, 0]])
    cropped = tf.image.stateless_random_crop(padded, [height, width, channels], seed=seed)
    flipped = tf.image.stateless_random_flip_left_right(cropped, seed=tf.stack([seed[0], seed[1] + 1]))
    return tf.ensure_shape(flipped, (height, width, channels))


def load(dataset, split="train", batch_size=128, augment=False, shuffle=None, num_examples=None, seed=0,
         data_dir=None, cache=True, drop_remainder=False):
    """A batched ``tf.data.Dataset`` of (float32 images [B,H,W,C] in [0,1], int32 labels [B]).

    dataset: "digits", a name in ``TFDS_NAMES`` or a TFDS prepared-dataset directory.
    split: TFDS split string, e.g. "train", "test[:500]" (digits: [start:end] integer/percent slices, "+").
    augment: CIFAR augmentation per example (PNI sec. 4.1): 4-pixel zero padding, random crop, random flip.
    shuffle: default True for splits starting with "train"; buffer min(examples, 10000), reshuffled each epoch.
    num_examples: keep only the first N examples of the (sliced) split, before shuffling.
    seed: fixes file order, shuffling and augmentation (each epoch still differs from the previous one).
    cache: keep decoded examples in memory (as uint8, before shuffle and augmentation).
    """
    batch_size = _check_int("batch_size", batch_size, 1)
    num_examples = _check_int("num_examples", num_examples, 1, allow_none=True)
    seed = _check_int("seed", seed, 0)
    if not isinstance(split, str):
        raise ZooError(f"split {split!r} is invalid: expected a split name such as 'train' or 'test[:100]'")
    if shuffle is None:
        shuffle = split.strip().startswith("train")
    shuffle = bool(shuffle)

    # File-level shuffling would make "the first num_examples" random; read in stored order then.
    ds, scale, shape = _open(dataset, split, data_dir, shuffle_files=shuffle and num_examples is None, seed=seed)
    shape = tuple(int(d) for d in shape)
    if num_examples is not None:
        ds = ds.take(num_examples)
    if cache:
        ds = ds.cache()
    if shuffle:
        count = int(ds.cardinality())
        buffer = min(count, _SHUFFLE_BUFFER) if count > 0 else _SHUFFLE_BUFFER
        ds = ds.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True)

    def to_float(image, label):
        image = tf.ensure_shape(tf.cast(image, tf.float32) / scale, shape)
        return image, tf.cast(label, tf.int32)

    if augment:
        # One random int64 per example, a new stream every epoch, the same streams for the same seed.
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, randoms))

        def to_float_augmented(example, random):
            image, label = to_float(*example)
            return augment_image(image, tf.stack([random, tf.constant(0, tf.int64)])), label

        ds = ds.map(to_float_augmented, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=bool(drop_remainder)).prefetch(tf.data.AUTOTUNE)


def as_numpy(dataset, split, n, **kw):
    """(x float32 [n,H,W,C], y int32 [n]): the first n examples of ``split``, unshuffled and unaugmented.

    Fewer than n rows come back when the split is smaller. ``kw`` goes to ``load`` (e.g. data_dir)."""
    n = _check_int("n", n, 1)
    ds = load(dataset, split, batch_size=min(n, 1000), augment=False, shuffle=False, num_examples=n, cache=False,
              **kw)
    xs, ys = [], []
    for x, y in ds.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        h, w, c = info(dataset, kw.get("data_dir")).input_shape
        return np.zeros((0, h, w, c), np.float32), np.zeros((0,), np.int32)
    return np.concatenate(xs), np.concatenate(ys)


# --------------------------------------------------------------------------------------------- info


def _digits_info():
    images, labels = _digits_arrays()
    train = images[:_DIGITS_TRAIN].astype(np.float64) / _DIGITS_SCALE
    return DatasetInfo(name=DIGITS, num_classes=int(labels.max()) + 1, input_shape=tuple(images.shape[1:]),
                       splits={"train": _DIGITS_TRAIN, "test": len(images) - _DIGITS_TRAIN},
                       mean=(float(train.mean()),), std=(float(train.std()),))


def info(dataset, data_dir=None):
    """DatasetInfo: num_classes, input_shape, split sizes and per-channel mean/std (sources: digits computed
    from its train split; cifar10/svhn_cropped/mnist published constants; a directory named like cifar10 the
    CIFAR-10 constants, any other directory 0.5 / 0.25). ``data_dir`` is accepted for symmetry with ``load``;
    TFDS names are answered from a built-in table without downloading."""
    kind, value = _kind(dataset)
    if kind == DIGITS:
        return _digits_info()
    if kind == "tfds":
        row = _TFDS_TABLE[value]
        return DatasetInfo(name=value, num_classes=row["num_classes"], input_shape=row["input_shape"],
                           splits=dict(row["splits"]), mean=row["mean"], std=row["std"])
    builder = _builder(value)
    image_key, label_key = _image_label_keys(builder)
    features = builder.info.features
    shape = tuple(features[image_key].shape)
    num_classes = getattr(features[label_key], "num_classes", None)
    splits = {name: int(s.num_examples) for name, s in builder.info.splits.items()}
    names = (builder.info.name.lower(), os.path.basename(os.path.dirname(resolve_directory(value))).lower())
    channels = shape[-1] if shape and shape[-1] else 1
    if any("cifar10" in n and "cifar100" not in n for n in names) and channels == 3:
        mean, std = CIFAR10_MEAN, CIFAR10_STD
    else:
        mean, std = (0.5,) * channels, (0.25,) * channels
    return DatasetInfo(name=builder.info.name, num_classes=num_classes, input_shape=shape, splits=splits,
                       mean=mean, std=std)
