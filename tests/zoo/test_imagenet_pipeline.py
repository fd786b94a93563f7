"""zoo.data's ImageNet geometry: random-resized crop + flip for training, resize-256 + centre-224 crop for
evaluation, on synthetic images, a TFDS prepared dataset of varied-size PNGs written here, and the named
TFDS path with tfds.load replaced (nothing is downloaded)."""
import importlib
import sys

import numpy as np
import pytest
import tensorflow as tf

from zoo import data
from zoo.errors import ZooError


def collect(ds):
    xs, ys = zip(*ds.as_numpy_iterator())
    return np.concatenate(xs), np.concatenate(ys)


def one_line_error(fn, *args, **kwargs):
    with pytest.raises(ZooError) as excinfo:
        fn(*args, **kwargs)
    assert "\n" not in str(excinfo.value)
    return str(excinfo.value)


# ------------------------------------------------------------------------------------------------ geometry


@pytest.mark.parametrize("height, width, top, left", [
    (256, 320, 16, 48),   # landscape: shorter side already 256, no resize; centre offsets (H-224)/2, (W-224)/2
    (320, 256, 48, 16),   # portrait
    (256, 341, 16, 58),   # (341-224)/2 = 58.5 rounds half to even, as torchvision's int(round(58.5)) = 58
    (256, 256, 16, 16),
])
def test_eval_crop_is_the_exact_centre_when_no_resize_is_needed(height, width, top, left):
    image = np.random.default_rng(height + width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = data.imagenet_eval_image(tf.constant(image)).numpy()
    assert out.shape == (224, 224, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, image[top:top + 224, left:left + 224].astype(np.float32) / 255)


@pytest.mark.parametrize("height, width", [(512, 680), (680, 512)])
def test_eval_resizes_the_shorter_side_to_256_then_crops_the_centre(height, width):
    # A ramp (row index in channel 0, column index in channel 1) survives bilinear resizing exactly away from the
    # borders, so each output pixel tells which source coordinate it came from: a 2x downscale to 256 x
    # int(256 * long / short) = 340, then the centre 224 crop.
    ramp = np.zeros((height, width, 3), np.float32)
    ramp[..., 0] = np.arange(height)[:, None] / 1000
    ramp[..., 1] = np.arange(width)[None, :] / 1000
    out = data.imagenet_eval_image(tf.constant(ramp), scale=1.0).numpy()
    new_h, new_w = (256, 340) if height < width else (340, 256)
    top, left = (new_h - 224) // 2, (new_w - 224) // 2  # 16 and 58 (both exact halves)
    k = np.arange(224)
    np.testing.assert_allclose(out[..., 0], np.broadcast_to((2 * (k[:, None] + top) + 0.5) / 1000, (224, 224)),
                               atol=1e-6)
    np.testing.assert_allclose(out[..., 1], np.broadcast_to((2 * (k[None, :] + left) + 0.5) / 1000, (224, 224)),
                               atol=1e-6)


def test_eval_image_size_sets_the_resize_to_size_times_8_over_7():
    image = np.random.default_rng(0).integers(0, 256, (128, 200, 1), dtype=np.uint8)
    out = data.imagenet_eval_image(tf.constant(image), image_size=112).numpy()  # 112 * 8/7 = 128: no resize
    np.testing.assert_array_equal(out, image[8:120, 44:156].astype(np.float32) / 255)
    assert "resize_size=100" in one_line_error(data.imagenet_eval_image, tf.constant(image), 112, resize_size=100)


def test_random_resized_crop_boxes_follow_the_inception_ranges():
    boxes = np.array([[int(v) for v in data.random_resized_crop_box(300, 400, tf.constant([s, 7]))]
                      for s in range(200)])
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 300).all() and (left + w <= 400).all()
    area = h * w / (300 * 400)
    assert area.min() >= 0.08 * 0.97 and area.max() <= 1.0  # sides are rounded: area up to ~3% off
    aspect = w / h
    assert aspect.min() >= 0.75 * 0.97 and aspect.max() <= 4 / 3 * 1.03
    assert len({tuple(b) for b in boxes}) > 190  # the seed varies the box
    assert area.max() - area.min() > 0.6 and top.max() > 100 and left.max() > 100
    again = [int(v) for v in data.random_resized_crop_box(300, 400, tf.constant([3, 7]))]
    assert again == list(boxes[3])  # stateless: the seed fixes it


def test_random_resized_crop_falls_back_to_the_clamped_centre_crop():
    # No 8-100% crop with aspect 3/4..4/3 fits a 10x1000 strip: torchvision's fallback is the centre crop of
    # the full height with w = round(10 * 4/3) = 13, at left (1000 - 13) // 2 = 493.
    assert [int(v) for v in data.random_resized_crop_box(10, 1000, tf.constant([1, 2]))] == [0, 493, 10, 13]
    assert [int(v) for v in data.random_resized_crop_box(1000, 10, tf.constant([1, 2]))] == [493, 0, 13, 10]


def test_train_image_shape_range_seed_and_flip():
    ramp = np.broadcast_to(np.linspace(0, 255, 300, dtype=np.float32)[None, :, None], (240, 300, 3))
    image = tf.constant(np.round(ramp).astype(np.uint8))
    outs = [data.imagenet_train_image(image, tf.constant([s, 0], tf.int64)).numpy() for s in range(40)]
    assert all(o.shape == (224, 224, 3) and o.dtype == np.float32 for o in outs)
    assert min(o.min() for o in outs) >= 0 and max(o.max() for o in outs) <= 1
    np.testing.assert_array_equal(outs[5], data.imagenet_train_image(image, tf.constant([5, 0])).numpy())
    assert not np.array_equal(outs[0], outs[1])
    flipped = sum(o[112, 0, 0] > o[112, -1, 0] for o in outs)  # a left-to-right ramp, reversed when flipped
    assert 8 <= flipped <= 32


# ------------------------------------------------------------------------------------------------ pipelines

SIZES = [(256, 300), (300, 256), (180, 200), (400, 350), (256, 341), (97, 130)]  # train; validation below
VAL_SIZES = [(256, 300), (260, 260), (500, 375)]


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    """A TFDS prepared dataset of PNG images of varied sizes (shape (None, None, 3)), 4 classes, named like
    imagenette (so info() gives it the ImageNet statistics)."""
    tfds = pytest.importorskip("tensorflow_datasets")
    rng = np.random.default_rng(3)
    train = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in SIZES]
    val = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in VAL_SIZES]
    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(None, None, 3), encoding_format="png"),
        "label": tfds.features.ClassLabel(num_classes=4)})
    root = tmp_path_factory.mktemp("tfds_varied")
    with pytest.MonkeyPatch.context() as mp:
        try:
            importlib.import_module("importlib_resources")
        except ModuleNotFoundError:  # tensorflow/datasets#11212, as in test_data.py
            importlib.import_module("importlib.resources.abc")
            mp.setitem(sys.modules, "importlib_resources", importlib.import_module("importlib.resources"))
        tfds.dataset_builders.store_as_tfds_dataset(
            name="tiny_imagenette", version="1.0.0", features=features, data_dir=str(root), disable_shuffling=True,
            split_datasets={"train": [(i, {"image": im, "label": i % 4}) for i, im in enumerate(train)],
                            "validation": [(i, {"image": im, "label": i % 4}) for i, im in enumerate(val)]})
    return str(root / "tiny_imagenette"), train, val


def test_varied_size_directory_defaults_to_the_imagenet_geometry(varied):
    path, train, val = varied
    i = data.info(path)
    assert (i.preprocess, i.input_shape, i.num_classes) == ("imagenet", (224, 224, 3), 4)
    assert (i.mean, i.std) == (data.IMAGENET_MEAN, data.IMAGENET_STD)
    assert data.info(path, image_size=96).input_shape == (96, 96, 3)
    x, y = collect(data.load(path, "validation", batch_size=2))  # evaluation: unshuffled centre crops
    assert x.shape == (3, 224, 224, 3) and list(y) == [0, 1, 2]
    np.testing.assert_array_equal(x[0], val[0][16:240, 38:262].astype(np.float32) / 255)  # 256x300: no resize
    assert 0 <= x.min() and x.max() <= 1
    x, y = collect(data.load(path, "train", batch_size=4, augment=True, seed=1))
    assert x.shape == (6, 224, 224, 3) and sorted(y) == [0, 0, 1, 1, 2, 3]
    assert 0 <= x.min() and x.max() <= 1
    again, _ = collect(data.load(path, "train", batch_size=4, augment=True, seed=1))
    other, _ = collect(data.load(path, "train", batch_size=4, augment=True, seed=2))
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x, other)
    small, _ = data.as_numpy(path, "train", 2, image_size=64)
    assert small.shape == (2, 64, 64, 3)


def test_fixed_size_data_can_take_the_imagenet_geometry():
    x, y = collect(data.load("digits", "test[:3]", batch_size=3, preprocess="imagenet", image_size=32))
    assert x.shape == (3, 32, 32, 1) and 0 <= x.min() and x.max() <= 1
    x, _ = collect(data.load("digits", "train[:5]", batch_size=5, augment=True, preprocess="imagenet", image_size=16))
    assert x.shape == (5, 16, 16, 1)
    assert data.info("digits", preprocess="imagenet").input_shape == (224, 224, 1)
    assert data.info("digits").preprocess == "cifar"


def test_preprocess_errors_are_one_line(varied):
    path, _, _ = varied
    m = one_line_error(data.load, "digits", preprocess="inception")
    assert m == "unknown preprocess 'inception': expected one of cifar, imagenet"
    m = one_line_error(data.load, "digits", image_size=64)
    assert "image_size=64" in m and "preprocess='imagenet'" in m and "8x8" in m
    m = one_line_error(data.info, path, preprocess="cifar")
    assert "(None, None, 3)" in m and "preprocess='imagenet'" in m
    assert "image_size=0" in one_line_error(data.load, "digits", preprocess="imagenet", image_size=0)


def test_imagenet_names_carry_imagenet_statistics():
    i = data.info("imagenet2012")
    assert (i.num_classes, i.input_shape, i.preprocess) == (1000, (224, 224, 3), "imagenet")
    assert i.mean == (0.485, 0.456, 0.406) and i.std == (0.229, 0.224, 0.225)
    assert i.splits == {"train": 1_281_167, "validation": 50_000}
    n = data.info("imagenette/160px-v2", image_size=128)
    assert (n.num_classes, n.input_shape, n.mean) == (10, (128, 128, 3), data.IMAGENET_MEAN)


def test_named_tfds_path_keeps_images_encoded_until_after_shuffling(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(256, 300), (300, 400), (240, 240)]]
    encoded = [tf.io.encode_png(im).numpy() for im in images]
    calls = {}

    def fake_load(name, split, decoders=None, **kwargs):
        calls.update(name=name, split=split, decoders=decoders, **kwargs)
        return tf.data.Dataset.from_tensor_slices((encoded, np.arange(3, dtype=np.int64)))

    monkeypatch.setattr(tfds, "load", fake_load)
    x, y = collect(data.load("imagenette", "validation", batch_size=3))
    assert calls["name"] == "imagenette" and calls["as_supervised"]
    assert isinstance(calls["decoders"]["image"], tfds.decode.SkipDecoding)
    assert x.shape == (3, 224, 224, 3) and list(y) == [0, 1, 2]
    np.testing.assert_array_equal(x[0], images[0][16:240, 38:262].astype(np.float32) / 255)
    x, _ = collect(data.load("imagenet2012", "train", batch_size=3, augment=True))
    assert x.shape == (3, 224, 224, 3) and 0 <= x.min() and x.max() <= 1
    assert one_line_error(data.load, "imagenet2012", "test").startswith("split 'test' not in dataset 'imagenet2012'")

    def no_archives(*args, **kwargs):
        raise AssertionError("Manual directory /x/downloads/manual does not exist or is empty. Create it and "
                             "download/extract dataset artifacts in there using instructions:\nmanual_dir should ...")

    monkeypatch.setattr(tfds, "load", no_archives)
    m = one_line_error(data.load, "imagenet2012", "validation")
    assert "ILSVRC2012_img_val.tar" in m and "/x/downloads/manual" in m


def test_trainers_build_the_model_for_the_pipeline_geometry(varied):
    from trainers.config import TrainConfig
    from trainers.run import build

    path, _, _ = varied
    config = TrainConfig(method="vanilla", model="lenet5", dataset=path, eval_split="validation", image_size=40,
                         batch_size=2, epochs=1)
    _, net, train_ds, eval_ds = build(config)[:4]
    assert net.input_shape == (None, 40, 40, 3)
    assert train_ds.element_spec[0].shape[1:] == eval_ds.element_spec[0].shape[1:] == (40, 40, 3)
    assert net.zoo_spec["variant"]["mean"] == list(data.IMAGENET_MEAN)
