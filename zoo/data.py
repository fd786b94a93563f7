"""Input pipelines: batched ``tf.data`` datasets of float32 images in [0,1] and int32 labels.

Three sources, chosen by the ``dataset`` string:

* ``"digits"``: scikit-learn's bundled 8x8 digits (``sklearn.datasets.load_digits``), the offline
  default. Split in file order: "train" = first 1437 examples, "test" = last 360 (80/20).
* a TFDS name from ``TFDS_NAMES`` (``tfds.load``; downloads on first use, needs network; ImageNet needs
  its archives put in TFDS' manual_dir by hand).
* a TFDS prepared-dataset directory (``tfds.builder_from_directory``), either the version directory
  holding ``dataset_info.json`` or its parent (highest version wins), e.g. the offline CIFAR-10 copy
  ``../shared/data/cifar10_jpeg/1.0.0``.

Two geometries (``preprocess``), the default chosen by the dataset's stored image shape:

* ``"cifar"`` (images of one fixed size): the stored size; ``augment`` = pad 4, random crop, flip.
* ``"imagenet"`` (images of varying size, e.g. ``imagenet2012``, ``imagenette``): train (``augment``) =
  random-resized crop to ``image_size`` (224) + flip; eval = shorter side to 256, centre 224 crop.

Images reach the model in [0,1]; normalisation is the model's first layer (PNI sec. 4.1), which is
why ``info()`` reports per-channel mean/std instead of applying them here.
"""
import dataclasses
import os

import numpy as np
import tensorflow as tf

from zoo.errors import ZooError, choice_error
from zoo.splits import DIGITS_SCALE as _DIGITS_SCALE, DIGITS_TRAIN as _DIGITS_TRAIN
from zoo.splits import check_split as _check_split, digits_arrays as _digits_arrays
from zoo.splits import digits_split_indices as _digits_split_indices
from zoo.transforms import (IMAGE_SIZE, RRC_ATTEMPTS, RRC_RATIO, RRC_SCALE, augment_image,  # noqa: F401
                            imagenet_eval_image, imagenet_train_image, random_resized_crop_box)

DIGITS = "digits"
TFDS_NAMES = ("cifar10", "svhn_cropped", "mnist", "imagenet2012", "imagenette", "imagenette/320px-v2",
              "imagenette/160px-v2")
PREPROCESSING = ("cifar", "imagenet")

# Published per-channel statistics of the training sets, on [0,1] pixels.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
SVHN_MEAN = (0.4377, 0.4438, 0.4728)
SVHN_STD = (0.1980, 0.2010, 0.1970)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet statistics
IMAGENET_STD = (0.229, 0.224, 0.225)

# What info() knows about TFDS names without downloading anything.
_TFDS_TABLE = {
    "cifar10": dict(num_classes=10, input_shape=(32, 32, 3), splits={"train": 50000, "test": 10000},
                    mean=CIFAR10_MEAN, std=CIFAR10_STD),
    "svhn_cropped": dict(num_classes=10, input_shape=(32, 32, 3),
                         splits={"train": 73257, "test": 26032, "extra": 531131}, mean=SVHN_MEAN, std=SVHN_STD),
    "mnist": dict(num_classes=10, input_shape=(28, 28, 1), splits={"train": 60000, "test": 10000},
                  mean=MNIST_MEAN, std=MNIST_STD),
    # Stored at their original, varying sizes (input_shape = stored shape; None = varies). The ImageNet test
    # split has no labels (all -1), so it is not offered.
    "imagenet2012": dict(num_classes=1000, input_shape=(None, None, 3),
                         splits={"train": 1281167, "validation": 50000}, mean=IMAGENET_MEAN, std=IMAGENET_STD),
    **{name: dict(num_classes=10, input_shape=(None, None, 3), splits={"train": 9469, "validation": 3925},
                  mean=IMAGENET_MEAN, std=IMAGENET_STD)  # imagenette v2 configs: the 70/30 split of Dec 2019
       for name in ("imagenette", "imagenette/320px-v2", "imagenette/160px-v2")},
}

_SHUFFLE_BUFFER = 10000


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model and a trainer need to know about a dataset (no data is read for TFDS names)."""

    name: str
    num_classes: int
    input_shape: tuple  # (H, W, C)
    splits: dict  # split name -> number of examples
    mean: tuple  # per channel, on [0,1] pixels
    std: tuple
    preprocess: str = "cifar"  # the geometry load() uses by default ("imagenet": input_shape = image_size^2)


# --------------------------------------------------------------------------------------------- usage checks


def _check_int(flag, value, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ZooError(f"{flag}={value!r} is invalid: expected an integer >= {minimum}")
    return int(value)


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


def _image_label_keys(builder):
    keys = builder.info.supervised_keys
    if isinstance(keys, (tuple, list)) and len(keys) == 2 and all(isinstance(k, str) for k in keys):
        return tuple(keys)
    features = builder.info.features
    if "image" in features and "label" in features:
        return "image", "label"
    raise ZooError(f"dataset {builder.info.name!r} has no supervised keys and no 'image'/'label' features "
                   f"(features: {', '.join(sorted(features.keys()))})")


def _image_shape(builder, image_key):
    """Stored (H, W, C) of a prepared dataset's images; H and W may be None (sizes vary), C may not."""
    shape = tuple(builder.info.features[image_key].shape)
    if len(shape) != 3 or shape[-1] is None:
        raise ZooError(f"dataset {builder.info.name!r} has images of shape {shape}: expected (H, W, C) with a "
                       "known number of channels C")
    return shape


def _stored_shape(dataset, data_dir=None):
    """The stored image shape of ``dataset`` (None where sizes vary), without reading any example."""
    kind, value = _kind(dataset)
    if kind == DIGITS:
        return tuple(_digits_arrays()[0].shape[1:])
    if kind == "tfds":
        return _TFDS_TABLE[value]["input_shape"]
    builder = _builder(value)
    return _image_shape(builder, _image_label_keys(builder)[0])


def resolve_preprocess(dataset, stored_shape, preprocess=None, image_size=None):
    """(preprocess, image_size, output (H, W, C)) after defaults: "imagenet" when the stored sizes vary, else
    "cifar"; image_size (default 224) belongs to "imagenet" only. ZooError names a bad value."""
    varies = any(d is None for d in stored_shape[:2])
    if preprocess is None:
        preprocess = "imagenet" if varies else "cifar"
    if preprocess not in PREPROCESSING:
        raise choice_error("preprocess", preprocess, PREPROCESSING)
    if preprocess == "cifar":
        if varies:
            raise ZooError(f"preprocess='cifar' needs images of one size, but dataset {dataset!r} stores images of "
                           f"shape {tuple(stored_shape)}: use preprocess='imagenet'")
        if image_size is not None:
            raise ZooError(f"image_size={image_size!r} applies to preprocess='imagenet' only: preprocess='cifar' keeps "
                           f"the stored {stored_shape[0]}x{stored_shape[1]} images of dataset {dataset!r}")
        return preprocess, None, tuple(int(d) for d in stored_shape)
    image_size = _check_int("image_size", IMAGE_SIZE if image_size is None else image_size, 1)
    return preprocess, image_size, (image_size, image_size, int(stored_shape[-1]))


def _read_config(shuffle_files, seed):
    tfds = _tfds()
    if shuffle_files:
        return tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)
    # Unshuffled: read the shards one after the other, i.e. in the stored order, so that
    # num_examples / as_numpy mean "the first N examples of the split".
    return tfds.ReadConfig(interleave_cycle_length=1, try_autocache=False)


def _manual_download_error(value, err):
    return ZooError(f"dataset {value!r} is not prepared and TFDS cannot download it: put its archives in the "
                    f"TFDS manual_dir (<data_dir>/downloads/manual; imagenet2012: ILSVRC2012_img_train.tar and "
                    f"ILSVRC2012_img_val.tar) or pass a prepared-dataset directory ({str(err).split('. ')[0]})")


def _open(dataset, split, data_dir, shuffle_files, seed, skip_decoding=False):
    """(tf.data of (uint8 image [H,W,C], integer label), pixel scale, stored (H,W,C), None where it varies).

    skip_decoding: TFDS images stay encoded (string tensors; decoded after shuffling, see ``load``)."""
    kind, value = _kind(dataset)
    if kind == DIGITS:
        images, labels = _digits_arrays()
        idx = _digits_split_indices(split)
        ds = tf.data.Dataset.from_tensor_slices((images[idx], labels[idx]))
        return ds, _DIGITS_SCALE, images.shape[1:]
    if kind == "tfds":
        _check_split(split, value, _TFDS_TABLE[value]["splits"])
        tfds = _tfds()
        decoders = {"image": tfds.decode.SkipDecoding()} if skip_decoding else None
        try:
            ds = tfds.load(value, split=split, as_supervised=True, data_dir=data_dir, shuffle_files=shuffle_files,
                           read_config=_read_config(shuffle_files, seed), decoders=decoders)
        except ModuleNotFoundError as e:  # tensorflow/datasets#11212: undeclared dependency on Python >= 3.9
            if e.name != "importlib_resources":
                raise
            raise ZooError(f"tensorflow-datasets needs the package importlib_resources to prepare {value!r} "
                           "(tensorflow/datasets#11212): pip install importlib_resources") from e
        except AssertionError as e:  # ImageNet: TFDS asserts that the manual_dir holds the archives
            if "manual" not in str(e).lower():
                raise
            raise _manual_download_error(value, e) from e
        return ds, 255.0, _TFDS_TABLE[value]["input_shape"]
    builder = _builder(value)
    _check_split(split, builder.info.name, builder.info.splits.keys())
    image_key, label_key = _image_label_keys(builder)
    shape = _image_shape(builder, image_key)
    if builder.info.disable_shuffling:  # an ordered dataset: TFDS refuses shuffle_files=True for it
        shuffle_files = False
    decoders = {image_key: _tfds().decode.SkipDecoding()} if skip_decoding else None
    if builder.info.supervised_keys == (image_key, label_key):
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=shuffle_files,
                                read_config=_read_config(shuffle_files, seed), decoders=decoders)
    else:
        ds = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=_read_config(shuffle_files, seed),
                                decoders=decoders)
        ds = ds.map(lambda ex: (ex[image_key], ex[label_key]), num_parallel_calls=tf.data.AUTOTUNE)
    return ds, 255.0, shape


# --------------------------------------------------------------------------------------------- pipeline


def load(dataset, split="train", batch_size=128, augment=False, shuffle=None, num_examples=None, seed=0,
         data_dir=None, cache=None, drop_remainder=False, preprocess=None, image_size=None):
    """A batched ``tf.data.Dataset`` of (float32 images [B,H,W,C] in [0,1], int32 labels [B]).

    dataset: "digits", a name in ``TFDS_NAMES`` or a TFDS prepared-dataset directory.
    split: TFDS split string, e.g. "train", "test[:500]" (digits: [start:end] integer/percent slices, "+").
    augment: training augmentation per example, seeded: "cifar" = 4-pixel zero padding, random crop, random
        flip (PNI sec. 4.1); "imagenet" = random-resized crop + flip (else the resize-256 centre crop).
    shuffle: default True for splits starting with "train"; buffer min(examples, 10000), reshuffled each epoch.
    num_examples: keep only the first N examples of the (sliced) split, before shuffling.
    seed: fixes file order, shuffling and augmentation (each epoch still differs from the previous one).
    cache: keep examples in memory before shuffle and augmentation; default True for "cifar" (decoded uint8),
        False for "imagenet" (True keeps the encoded images: fine for imagenette, not for ImageNet).
    preprocess: "cifar" or "imagenet" (module docstring); default "imagenet" when the stored sizes vary.
    image_size: the "imagenet" output side (default 224; evaluation resizes the shorter side to image_size*8/7).
    """
    batch_size = _check_int("batch_size", batch_size, 1)
    num_examples = _check_int("num_examples", num_examples, 1, allow_none=True)
    seed = _check_int("seed", seed, 0)
    if not isinstance(split, str):
        raise ZooError(f"split {split!r} is invalid: expected a split name such as 'train' or 'test[:100]'")
    if shuffle is None:
        shuffle = split.strip().startswith("train")
    shuffle = bool(shuffle)
    preprocess, image_size, out_shape = resolve_preprocess(dataset, _stored_shape(dataset, data_dir), preprocess,
                                                           image_size)
    imagenet = preprocess == "imagenet"
    if cache is None:
        cache = not imagenet

    # File-level shuffling would make "the first num_examples" random; read in stored order then.
    # The ImageNet geometry keeps TFDS images encoded until after the shuffle buffer (~10x less memory).
    ds, scale, shape = _open(dataset, split, data_dir, shuffle_files=shuffle and num_examples is None, seed=seed,
                             skip_decoding=imagenet)
    channels = int(shape[-1])
    if num_examples is not None:
        ds = ds.take(num_examples)
    if cache:
        ds = ds.cache()
    if shuffle:
        count = int(ds.cardinality())
        buffer = min(count, _SHUFFLE_BUFFER) if count > 0 else _SHUFFLE_BUFFER
        ds = ds.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True)

    def decoded(image):
        if image.dtype == tf.string:
            image = tf.io.decode_image(image, channels=channels, expand_animations=False)
        return tf.ensure_shape(image, (None, None, channels) if imagenet else shape)

    def to_float(image, label):
        if imagenet:
            image = imagenet_eval_image(decoded(image), image_size, scale=scale)
        else:
            image = tf.ensure_shape(tf.cast(decoded(image), tf.float32) / scale, out_shape)
        return image, tf.cast(label, tf.int32)

    if augment:
        # One random int64 per example, a new stream every epoch, the same streams for the same seed.
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, randoms))

        def to_float_augmented(example, random):
            image, label = example
            example_seed = tf.stack([random, tf.constant(0, tf.int64)])
            if imagenet:
                return imagenet_train_image(decoded(image), example_seed, image_size, scale=scale), tf.cast(
                    label, tf.int32)
            image, label = to_float(image, label)
            return augment_image(image, example_seed), label

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
        h, w, c = info(dataset, kw.get("data_dir"), kw.get("preprocess"), kw.get("image_size")).input_shape
        return np.zeros((0, h, w, c), np.float32), np.zeros((0,), np.int32)
    return np.concatenate(xs), np.concatenate(ys)


# --------------------------------------------------------------------------------------------- info


def _digits_info():
    images, labels = _digits_arrays()
    train = images[:_DIGITS_TRAIN].astype(np.float64) / _DIGITS_SCALE
    return DatasetInfo(name=DIGITS, num_classes=int(labels.max()) + 1, input_shape=tuple(images.shape[1:]),
                       splits={"train": _DIGITS_TRAIN, "test": len(images) - _DIGITS_TRAIN},
                       mean=(float(train.mean()),), std=(float(train.std()),))


def info(dataset, data_dir=None, preprocess=None, image_size=None):
    """DatasetInfo: num_classes, input_shape, split sizes and per-channel mean/std (sources: digits computed
    from its train split; cifar10/svhn_cropped/mnist/imagenet2012/imagenette published constants; a directory
    named like cifar10 the CIFAR-10 constants, like imagenet/imagenette the ImageNet ones, any other 0.5 / 0.25).
    ``input_shape`` is what ``load`` yields with the same ``preprocess`` / ``image_size`` (the stored shape for
    "cifar", image_size x image_size for "imagenet"). ``data_dir`` is accepted for symmetry with ``load``;
    TFDS names are answered from a built-in table without downloading."""
    kind, value = _kind(dataset)
    if kind == DIGITS:
        base = _digits_info()
    elif kind == "tfds":
        row = _TFDS_TABLE[value]
        base = DatasetInfo(name=value, num_classes=row["num_classes"], input_shape=row["input_shape"],
                           splits=dict(row["splits"]), mean=row["mean"], std=row["std"])
    else:
        builder = _builder(value)
        image_key, label_key = _image_label_keys(builder)
        features = builder.info.features
        shape = _image_shape(builder, image_key)
        num_classes = getattr(features[label_key], "num_classes", None)
        splits = {name: int(s.num_examples) for name, s in builder.info.splits.items()}
        names = (builder.info.name.lower(), os.path.basename(os.path.dirname(resolve_directory(value))).lower())
        channels = shape[-1]
        if any("cifar10" in n and "cifar100" not in n for n in names) and channels == 3:
            mean, std = CIFAR10_MEAN, CIFAR10_STD
        elif any("imagenet" in n or "imagenette" in n for n in names) and channels == 3:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        else:
            mean, std = (0.5,) * channels, (0.25,) * channels
        base = DatasetInfo(name=builder.info.name, num_classes=num_classes, input_shape=shape, splits=splits,
                           mean=mean, std=std)
    preprocess, _, input_shape = resolve_preprocess(dataset, base.input_shape, preprocess, image_size)
    return dataclasses.replace(base, input_shape=input_shape, preprocess=preprocess)
