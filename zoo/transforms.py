"""Per-image geometry of the input pipelines: CIFAR augmentation (pad 4, random crop, flip) and the ImageNet
random-resized crop (training) and resize + centre crop (evaluation). Stateless: a seed fixes the result."""
import numpy as np
import tensorflow as tf

from zoo.errors import ZooError

_PAD = 4  # CIFAR augmentation: 4 zero pixels on each side, then a random crop back to HxW
IMAGE_SIZE = 224  # ImageNet pipeline: output side
RRC_SCALE = (0.08, 1.0)  # random-resized crop: area fraction (Szegedy et al. 2015; torchvision)
RRC_RATIO = (3 / 4, 4 / 3)  # random-resized crop: aspect ratio w/h, sampled log-uniformly
RRC_ATTEMPTS = 10


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


def random_resized_crop_box(height, width, seed, scale=RRC_SCALE, ratio=RRC_RATIO, attempts=RRC_ATTEMPTS):
    """(top, left, crop_height, crop_width), int32 scalars: the Inception crop (Szegedy et al. 2015) as
    torchvision's ``RandomResizedCrop.get_params`` draws it. Up to ``attempts`` tries of an area fraction
    ~ U(scale) and an aspect ratio w/h ~ exp(U(log ratio)); sides rounded; the first try that fits wins, at
    a uniform position. If none fits, the centre crop of the whole image with its aspect ratio clamped to
    ``ratio``. Stateless: ``seed`` (integer tensor [2]) fixes the box."""
    height, width = tf.cast(height, tf.int32), tf.cast(width, tf.int32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    h, w = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    area = h * w * tf.random.stateless_uniform([attempts], seeds[0], scale[0], scale[1], dtype=tf.float64)
    aspect = tf.exp(tf.random.stateless_uniform([attempts], seeds[1], np.log(ratio[0]), np.log(ratio[1]),
                                                dtype=tf.float64))
    crop_w = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    crop_h = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
    first = tf.reduce_min(tf.where(fits, tf.range(attempts), attempts))

    def sampled():
        ch, cw = crop_h[first], crop_w[first]
        top = tf.random.stateless_uniform([], seeds[2], 0, height - ch + 1, dtype=tf.int32)
        left = tf.random.stateless_uniform([], seeds[3], 0, width - cw + 1, dtype=tf.int32)
        return top, left, ch, cw

    def centre():
        in_ratio = w / h
        lo, hi = min(ratio), max(ratio)
        ch = tf.where(in_ratio < lo, tf.cast(tf.round(w / lo), tf.int32), height)
        cw = tf.where(in_ratio > hi, tf.cast(tf.round(h * hi), tf.int32), width)
        return (height - ch) // 2, (width - cw) // 2, ch, cw

    return tf.cond(first < attempts, sampled, centre)


def _resize(image, height, width):
    """Bilinear, antialiased (like PIL and torchvision); the image itself (as float32) when already that size."""
    shape = tf.shape(image)
    same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
    return tf.cond(same, lambda: tf.cast(image, tf.float32),
                   lambda: tf.image.resize(image, tf.stack([height, width]), method="bilinear", antialias=True))


def imagenet_train_image(image, seed, image_size=IMAGE_SIZE, scale=255.0):
    """ImageNet training augmentation (torchvision's ``RandomResizedCrop(image_size)`` + ``RandomHorizontalFlip``):
    an Inception crop (``random_resized_crop_box``: area 8-100%, aspect 3/4-4/3) resized to image_size^2, then
    a left-right flip with probability 1/2. image [H,W,C] of any size, values in [0, scale] -> float32
    [image_size, image_size, C] in [0,1]. Stateless: ``seed`` (integer tensor [2]) fixes the result."""
    box_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2))
    shape = tf.shape(image)
    top, left, crop_h, crop_w = random_resized_crop_box(shape[0], shape[1], box_seed)
    crop = tf.slice(image, tf.stack([top, left, 0]), tf.stack([crop_h, crop_w, -1]))
    out = tf.clip_by_value(_resize(crop, image_size, image_size) / scale, 0.0, 1.0)
    out = tf.image.stateless_random_flip_left_right(out, seed=flip_seed)
    return tf.ensure_shape(out, (image_size, image_size, image.shape[-1]))


def imagenet_eval_image(image, image_size=IMAGE_SIZE, resize_size=None, scale=255.0):
    """ImageNet evaluation geometry (torchvision's ``Resize(256)`` + ``CenterCrop(224)``): the shorter side
    resized to ``resize_size`` (default image_size * 8/7: 256 for 224; the longer side to
    int(resize_size * long / short)), then the centre image_size^2 crop at offsets round((H - S) / 2) (round
    half to even, like Python's ``round`` in torchvision). -> float32 [image_size, image_size, C] in [0,1]."""
    resize_size = image_size * 8 // 7 if resize_size is None else int(resize_size)
    if resize_size < image_size:
        raise ZooError(f"resize_size={resize_size}: expected >= image_size={image_size} (the crop must fit)")
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    short, long = tf.minimum(height, width), tf.maximum(height, width)
    new_long = resize_size * long // short
    new_h = tf.where(height <= width, resize_size, new_long)
    new_w = tf.where(height <= width, new_long, resize_size)
    resized = _resize(image, new_h, new_w)
    top = tf.cast(tf.round(tf.cast(new_h - image_size, tf.float64) / 2), tf.int32)
    left = tf.cast(tf.round(tf.cast(new_w - image_size, tf.float64) / 2), tf.int32)
    crop = tf.slice(resized, tf.stack([top, left, 0]), [image_size, image_size, -1])
    out = tf.clip_by_value(crop / scale, 0.0, 1.0)
    return tf.ensure_shape(out, (image_size, image_size, image.shape[-1]))
