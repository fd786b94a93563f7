import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import ZooError
from zoo.layers import ColorDepth, FFTCompress, SVDCompress, low_frequency_mask, make_channel


def _images(n=4, h=16, w=16, c=3, seed=0):
    return tf.random.stateless_uniform([n, h, w, c], seed=[seed, 1])


@pytest.mark.parametrize("bits", [1, 3, 4, 8])
def test_color_depth_has_at_most_2_to_the_b_levels(bits):
    y = ColorDepth(bits)(_images(8, 32, 32)).numpy()
    for ch in range(3):
        assert len(np.unique(y[..., ch])) <= 2 ** bits
    assert np.abs(y - _images(8, 32, 32).numpy()).max() <= 0.5 / (2 ** bits - 1) + 1e-6


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7])
def test_fft_mask_keeps_the_requested_fraction_of_lowest_frequencies(fraction):
    mask = low_frequency_mask(32, 32, fraction)
    assert abs(mask.sum() - fraction * 32 * 32) <= 1
    np.testing.assert_array_equal(mask, np.roll(mask[::-1, ::-1], 1, axis=(0, 1)))  # M_f[w] = M_f[-w]
    radius = np.sqrt(np.fft.fftfreq(32)[:, None] ** 2 + np.fft.fftfreq(32)[None, :] ** 2)
    assert radius[mask == 1].max() <= radius[mask == 0].min()  # every kept frequency is lower
    assert mask[0, 0] == 1  # the DC term survives


def test_fft_compress_is_identity_at_fraction_one_and_a_low_pass_filter():
    x = _images()
    np.testing.assert_allclose(FFTCompress(1.0)(x), x, atol=1e-6)
    layer = FFTCompress(0.5)
    smooth = tf.ones([1, 16, 16, 3]) * 0.3
    np.testing.assert_allclose(layer(smooth), smooth, atol=1e-5)  # DC only: unchanged
    checker = tf.cast((np.indices((16, 16)).sum(0) % 2)[None, :, :, None] * np.ones(3), tf.float32)
    out = layer(checker).numpy()
    np.testing.assert_allclose(out, 0.5, atol=1e-5)  # the Nyquist pattern is removed, the mean kept
    spectrum = np.fft.fft2(np.transpose(layer(x).numpy(), (0, 3, 1, 2)))
    assert (np.abs(spectrum) > 1e-3).sum(axis=(2, 3)).max() <= layer.mask.sum()


def test_fft_compress_gradient_is_exact():
    layer = FFTCompress(0.3)
    x = _images(2)
    c = tf.random.stateless_normal(x.shape, seed=[9, 9])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * c)
    # The filter is linear and self-adjoint (real part of a symmetric mask): grad = filter(c).
    np.testing.assert_allclose(tape.gradient(loss, x), layer(c), atol=1e-4)


@pytest.mark.parametrize("rank", [1, 4, 8])
def test_svd_compress_output_has_the_requested_rank(rank):
    x = _images(3, 16, 16)
    y = SVDCompress(rank)(x).numpy()
    for img in y:
        for ch in range(3):
            assert np.linalg.matrix_rank(img[..., ch], tol=1e-4) == rank
    full = SVDCompress(16)(x).numpy()
    np.testing.assert_allclose(full, x, atol=1e-4)


@pytest.mark.parametrize("layer", [ColorDepth(2), SVDCompress(2)])
def test_bpda_switch_gives_identity_gradient_with_the_same_forward(layer):
    x = _images(2, 8, 8)
    with tf.GradientTape() as tape:
        tape.watch(x)
        plain = layer(x)
        loss = tf.reduce_sum(plain)
    g = tape.gradient(loss, x)
    assert g is None or not np.allclose(g, 1.0)
    layer.bpda = True
    with tf.GradientTape() as tape:
        tape.watch(x)
        through = layer(x)
        loss = tf.reduce_sum(through)
    np.testing.assert_allclose(through, plain, atol=1e-5)
    np.testing.assert_allclose(tape.gradient(loss, x), np.ones(x.shape), atol=1e-6)
    layer.bpda = False
    assert not layer.is_differentiable


def test_channel_specs_and_errors():
    layer = make_channel("color_depth:bits=3")
    assert isinstance(layer, ColorDepth) and layer.bits == 3
    assert make_channel("gaussian:stddev=0.05").stddev == 0.05
    with pytest.raises(ZooError, match="unknown input channel 'blur'.*color_depth"):
        make_channel("blur")
    with pytest.raises(ZooError, match="fraction=1.5"):
        FFTCompress(1.5)
    with pytest.raises(ZooError, match="bits=0"):
        ColorDepth(0)
    with pytest.raises(ZooError, match="'bogus'"):
        make_channel("fft_compress:bogus=1")
