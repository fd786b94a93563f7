"""CIFAR-10-C and CIFAR-10-P, generated here because the published files cannot be downloaded.

Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations", ICLR 2019. The constants below are transcribed from the authors' generators for
32x32 images, https://github.com/hendrycks/robustness: ``ImageNet-C/create_c/make_cifar_c.py`` (C) and
``ImageNet-P/create_p/make_cifar_p.py`` (P); not the ImageNet-C constants. The implementations are this
package's own, vectorised over the batch with NumPy/SciPy (Pillow per image for JPEG and pixelate).

API::

    from eval import corruptions as cc
    cc.CORRUPTIONS["fog"](images, severity, rng)            # float32 [N,32,32,3] in [0,1] -> same
    sets = cc.generate(images, seed=0, cache_dir="data/cifar10_c")   # {(name, severity): uint8 [N,32,32,3]}
    seq = cc.perturbation_sequence(images, "rotate", frames=31)      # [N, 31, 32, 32, 3] in [0,1]

Randomness: ``generate`` seeds each (name, severity, block of 1000 images) from
``SeedSequence([seed, crc32(name), severity, block])``; the same seed gives identical arrays, whatever
the number of worker threads. The sets match the published ones in distribution, not bit for bit (the
published draws came from the global ``np.random`` state and ImageMagick). Storage is uint8 like the
published files: ``np.uint8(255 x)``, i.e. floor.

CIFAR-10-C parameters (severity 1 / 2 / 3 / 4 / 5) and deviations
-----------------------------------------------------------------

| corruption | parameter | s1 / s2 / s3 / s4 / s5 | implementation, deviation from the published generator |
|---|---|---|---|
| gaussian_noise | std c of x + N(0, c^2) | 0.04 / 0.06 / 0.08 / 0.09 / 0.10 | as published |
| shot_noise | c of Poisson(c x) / c | 500 / 250 / 100 / 75 / 50 | as published |
| impulse_noise | salt-and-pepper amount, per value | 0.01 / 0.02 / 0.03 / 0.05 / 0.07 | as skimage `random_noise(mode='s&p')` |
| defocus_blur | (disk radius, anti-alias sigma) | (0.3, 0.4) / (0.4, 0.5) / (0.5, 0.6) / (1, 0.2) / (1.5, 0.1) | kernel built like the cv2 code, correlation with BORDER_REFLECT_101; equal to cv2 within 1e-5 |
| glass_blur | (sigma, max delta, iterations) | (0.05, 1, 1) / (0.25, 1, 1) / (0.4, 1, 1) / (0.25, 1, 2) / (0.4, 1, 2) | the sequential pixel loop is a vectorised gather; equal to the published loop's effect (its NumPy "swap" only copies, see `blur.glass_shuffle`) |
| motion_blur | ImageMagick (radius, sigma); angle U(-45, 45) deg per image | (6, 1) / (6, 1.5) / (6, 2) / (8, 2) / (9, 2.5) | Wand/ImageMagick replaced by the same one-sided line kernel: 2 ceil(radius)+1 taps, half-Gaussian weights, integer offsets along the angle, edge pixels; 8-bit in and out |
| zoom_blur | zoom factors `np.arange(1, stop, 0.01)`, averaged with the image | stop 1.06 / 1.11 / 1.16 / 1.21 / 1.26, i.e. 7 / 12 / 16 / 21 / 26 factors from 1.00 to 1.06 / 1.11 / 1.15 / 1.20 / 1.25 | one 1024x1024 linear operator (scipy's own zoom weights); equal within 1e-5 |
| snow | (loc, scale, zoom, threshold, blur radius, blur sigma, blend) | (.1, .2, 1, .6, 8, 3, .95) / (.1, .2, 1, .5, 10, 4, .9) / (.15, .3, 1.75, .55, 10, 4, .9) / (.25, .3, 2.25, .6, 12, 6, .85) / (.3, .3, 1.25, .65, 14, 12, .8) | motion blur as above, angle U(-135, -45) deg |
| frost | (image weight, frost weight) | (1, .2) / (1, .3) / (.9, .4) / (.85, .4) / (.75, .45) | textures from the imagecorruptions package (the same six files); frost1..5 only, as published (`randint(5)`); 5x shrink = cv2.resize(fx=0.2) exactly |
| fog | (weight c, plasma wibble decay); plasma map 32x32 | (.2, 3) / (.5, 3) / (.75, 2.5) / (1, 2) / (1.5, 1.75) | diamond-square vectorised over the images |
| brightness | V + c in HSV | 0.05 / 0.1 / 0.15 / 0.2 / 0.3 | closed form of the skimage RGB-HSV-RGB round trip (within 1e-5) |
| contrast | (x - mean) c + mean, per image and channel | 0.75 / 0.5 / 0.4 / 0.3 / 0.15 | as published |
| elastic_transform | (alpha, sigma, affine jitter), each x 32 | (0, 0, .08) / (.05, .2, .07) / (.08, .06, .06) / (.1, .04, .05) / (.1, .03, .03) = (0, 0, 2.56) / (1.6, 6.4, 2.24) / (2.56, 1.92, 1.92) / (3.2, 1.28, 1.6) / (3.2, 0.96, 0.96) px | exact bilinear for cv2.warpAffine (which quantises coordinates to 1/32 px: up to 2e-3 apart); displacement `gaussian(truncate=3, mode='reflect')`, map_coordinates `reflect` |
| pixelate | Pillow BOX resize to int(32 c) and back | 0.95 / 0.9 / 0.85 / 0.75 / 0.65 (30 / 28 / 27 / 24 / 20 px) | Pillow per image: identical |
| jpeg_compression | Pillow JPEG quality | 80 / 65 / 58 / 50 / 40 | Pillow per image: identical |
| speckle_noise (extra) | std c of x + x N(0, c^2) | 0.06 / 0.10 / 0.12 / 0.16 / 0.20 | as published |
| gaussian_blur (extra) | sigma | 0.4 / 0.6 / 0.7 / 0.8 / 1.0 | skimage `gaussian` semantics (mode nearest, truncate 4) |
| spatter (extra) | (loc, scale, sigma, threshold, water intensity or mud sigma, mud?) | (.62, .1, .7, .7, .5, 0) / (.65, .1, .8, .7, .5, 0) / (.65, .3, 1, .69, .5, 0) / (.65, .1, .7, .69, .6, 1) / (.65, .1, .5, .68, .6, 1) | the OpenCV water chain (Canny, distanceTransform, equalizeHist, filter2D, blur) re-implemented in NumPy, equal to cv2 in the tests; a layer with no liquid gets no water (published: 0/0, a black image) |
| saturate (extra) | S a + b in HSV | (.3, 0) / (.1, 0) / (1.5, 0) / (2, .1) / (2.5, .2) | closed form of the skimage round trip (within 1e-5) |

All: 8-bit storage by floor like the published `np.uint8(255 x)`; random draws from NumPy Generators
seeded per (name, severity, block of 1000 images), so the sets match the published ones in
distribution, not bit for bit.

Severity is not monotone in pixel distance for every published setting: saturate desaturates at 1-2
and oversaturates at 3-5; elastic_transform's affine jitter shrinks while its elastic part grows, so
mean |x' - x| falls with severity; frost dims the image at 3-5 and only the frost-to-image ratio
grows (0.2, 0.3, 0.44, 0.47, 0.6); spatter switches from water (1-3) to mud (4-5) and grows in mean L2
but not in mean |x' - x|; motion_blur 3 and 4 differ only by taps of weight < 1e-9 (sigma 2, radius 6
vs 8); glass_blur grows in mean |x' - x| but not in L2 (severity 3 vs 4 trades sigma for a second
iteration).

CIFAR-10-P sequences (`perturbations`) and deviations
-----------------------------------------------------

Frame f of F has t = f / (F - 1); the published 31-frame sweeps are reproduced with F = 31 (default).
`make_cifar_p.py` writes frames with i = 0..30 (translate 0..15, motion_blur 0..20).

| perturbation | published frames | parameter of frame i | deviation |
|---|---|---|---|
| gaussian_noise | 31 | frame 0 clean; frames 1..30 clip(x + N(0, 0.02^2)), independent draws | `_2` / `_3`: std 0.04 / 0.06 (the other difficulties) |
| shot_noise | 31 | frame 0 clean; clip(Poisson(700 x) / 700) | `_2` / `_3`: 400 / 200 |
| speckle_noise | 31 | frame 0 clean; clip(x + x N(0, 0.05^2)) | `_2` / `_3`: std 0.07 / 0.1 |
| motion_blur | 21 | ImageMagick radius 6, sigma 1.8, angle (i - 20) 9 = -180 to 0 deg | F = 31 gives 6-deg steps over the same range (F = 21: the published steps) |
| zoom_blur | 31 | mean of x and its Pillow-bilinear zooms by 1 + 0.004 k, k = 1..i | - |
| gaussian_blur | 31 | skimage gaussian sigma 0.3 + 0.015 i, truncate 7 | - |
| brightness | 31 | HSV V + (i - 15) 0.015 | - |
| spatter | 31 | water: N(0.6, 0.265), gaussian 1.75, zero below 0.7, intensity 0.6; after each frame the liquid drips (columns convolved with [0.2, 0.8], `np.convolve 'same'`) | one drip step per frame whatever F |
| snow | 31 | flakes N(0.05, 0.3), zoom 2, zero below 0.5, fixed per image; ImageMagick radius 10, sigma 2, angle 4 i - 150 deg; blend 0.85 | - |
| translate | 16 | (i - 7) px horizontally (-7..8), zero fill, nearest | F = 31 (default) gives 0.5 px steps, half-pixel frames bilinear; F = 16 reproduces the published integer shifts exactly |
| rotate | 31 | (i - 15) deg, Pillow bilinear, about pixel (16, 16) as torchvision 0.2's affine | - |
| tilt | 31 | phi = theta = 0.75 (i - 15) deg, cv2.warpPerspective of the published homography | kept quirk: that homography also shrinks by f/(f+1) = 0.978 about the centre (f = sqrt(w^2 + h^2)) |
| scale (not in ANP) | 31 | zoom (2 i + 70) / 100, Pillow bilinear | - |
| shear (not in ANP) | 31 | shear (i - 15) deg, Pillow bilinear | - |

ANP Table 10 uses gaussian_noise, shot_noise, speckle_noise, motion_blur, zoom_blur, gaussian_blur,
brightness, spatter, snow, translate, rotate, tilt (`ANP_TABLE10`). Noise sequences compare every
frame with frame 0 in the flip probability; the others compare consecutive frames.
"""
from eval.corruptions import blur, digital, noise, weather  # noqa: F401  (registers the corruptions)
from eval.corruptions.generation import corrupt, generate
from eval.corruptions.perturbations import (ANP_TABLE10, PERTURBATIONS, Perturbation, flip_reference,
                                            list_perturbations, perturbation_sequence)
from eval.corruptions.registry import (ALL, BENCHMARK, CORRUPTIONS, EXTRA, SEVERITIES, Corruption, get,
                                       list_corruptions)

__all__ = ["ALL", "ANP_TABLE10", "BENCHMARK", "CORRUPTIONS", "Corruption", "EXTRA", "PERTURBATIONS", "Perturbation",
           "SEVERITIES", "corrupt", "flip_reference", "generate", "get", "list_corruptions", "list_perturbations",
           "perturbation_sequence"]
