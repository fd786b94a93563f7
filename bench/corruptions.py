"""CIFAR-10-C generation throughput: ``eval.corruptions`` vs the ``imagecorruptions`` package (prints JSON).

    python -m bench.corruptions [--n=1000] [--data=../shared/data/cifar10_jpeg/1.0.0] [--ref-n=N]

Same images (the first n CIFAR-10 test images of the offline copy, or synthetic ones if it is absent),
same run, severity 3:

* ``ours``: ``eval.corruptions.CORRUPTIONS[name](batch, 3, rng)`` on the whole batch, one thread (how
  ``generate`` runs by default); and ``ours_2threads``: the batch split in two halves run on two
  threads, as ``generate(workers=2)`` runs its 1000-image chunks. Every severity is also timed (one
  thread) for the projection below.
* ``imagecorruptions``: ``imagecorruptions.corrupt(image_uint8, corruption_name=name, severity=3)``
  per image, as its README shows. Corruptions that raise (glass_blur and gaussian_blur call skimage's
  removed ``multichannel`` argument, fog uses ``np.float_`` removed in NumPy 2) are recorded, not timed.

Not the same images out: imagecorruptions applies the ImageNet-C constants (e.g. gaussian_noise std
0.08-0.38, motion_blur radius 10-15), not the CIFAR-10-C ones implemented here, so this compares the
cost of generating a corruption set, not identical outputs.

Reported: images/s per corruption; the projected time to generate all of CIFAR-10-C (15 corruptions x
5 severities x 10,000 images) from the measured per-severity rates (imagecorruptions: its severity-3
rate for all five); and the total-time ratio over the corruptions both can run. Target (the issue's):
full CIFAR-10-C in under 3 minutes on this 2-core machine, and at least 5x less total time than
imagecorruptions.
"""
import argparse
import concurrent.futures
import json
import os
import time
import warnings

import zoo._tf_env  # noqa: F401,E402  (TensorFlow's environment: oneDNN on, logs quiet)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "cifar10_jpeg", "1.0.0")
FULL_IMAGES = 10000
TARGET_FULL_S = 180.0
TARGET_RATIO = 5.0


def _images(n, data):
    import numpy as np

    if data and os.path.isfile(os.path.join(data, "dataset_info.json")):
        from zoo.data import as_numpy

        x, _ = as_numpy(data, "test", n)
        return x, f"CIFAR-10 test[:{len(x)}] from {data}"
    rng = np.random.default_rng(0)
    from scipy import ndimage

    x = ndimage.gaussian_filter(rng.random((n, 32, 32, 3)), (0, 1.5, 1.5, 0))
    x = (x - x.min(axis=(1, 2, 3), keepdims=True)) / (x.max(axis=(1, 2, 3), keepdims=True) -
                                                      x.min(axis=(1, 2, 3), keepdims=True))
    return (np.round(x * 255) / 255).astype(np.float32), f"synthetic smooth noise ({data} not found)"


def _time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images per corruption")
    parser.add_argument("--ref-n", type=int, default=None, help="images for imagecorruptions (default: --n)")
    parser.add_argument("--data", default=DEFAULT_DATA, help="TFDS CIFAR-10 directory (synthetic if absent)")
    parser.add_argument("--repeats", type=int, default=1, help="timed repeats of ours (best is kept)")
    args = parser.parse_args()

    import numpy as np

    from eval import corruptions as cc

    x, source = _images(args.n, args.data)
    n = len(x)
    ref_n = min(n, args.ref_n or n)
    x8 = np.round(x * 255).astype(np.uint8)
    severity = 3
    results = {}

    for name in cc.ALL:  # ours
        c = cc.CORRUPTIONS[name]
        c(x[:8], severity, 0)  # build cached operators/textures outside the timing
        rates = {}
        for s in cc.SEVERITIES:
            t = _time(lambda: c(x, s, np.random.default_rng(0)), args.repeats)
            rates[s] = n / t
        half = n // 2

        def two_threads():
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda part: c(part, severity, np.random.default_rng(0)), (x[:half], x[half:])))

        t2 = _time(two_threads, args.repeats)
        results[name] = {"benchmark": name in cc.BENCHMARK, "ours_img_s": round(rates[severity], 1),
                         "ours_2threads_img_s": round(n / t2, 1),
                         "ours_img_s_by_severity": {s: round(r, 1) for s, r in rates.items()}}

    try:
        from imagecorruptions import corrupt
    except ImportError as err:  # still report ours
        corrupt, ref_error = None, f"imagecorruptions not importable: {err}"
    for name in cc.ALL:  # the reference, per image
        row = results[name]
        if corrupt is None:
            row["imagecorruptions_error"] = ref_error
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                corrupt(x8[0], corruption_name=name, severity=severity)
                start = time.perf_counter()
                for img in x8[:ref_n]:
                    corrupt(img, corruption_name=name, severity=severity)
                elapsed = time.perf_counter() - start
            row["imagecorruptions_img_s"] = round(ref_n / elapsed, 1)
            row["speedup"] = round(row["ours_img_s"] / row["imagecorruptions_img_s"], 1)
        except Exception as err:  # noqa: BLE001 - record whatever the package raises
            row["imagecorruptions_error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
        print(json.dumps({name: row}), flush=True)

    bench = [results[nm] for nm in cc.BENCHMARK]
    full_1 = sum(FULL_IMAGES / r for row in bench for r in row["ours_img_s_by_severity"].values())
    # two threads: scale each corruption's per-severity time by its measured severity-3 thread speedup
    full_2 = sum(FULL_IMAGES / r * row["ours_img_s"] / row["ours_2threads_img_s"]
                 for row in bench for r in row["ours_img_s_by_severity"].values())
    common = [nm for nm in cc.BENCHMARK if "imagecorruptions_img_s" in results[nm]]
    ref_common = sum(1.0 / results[nm]["imagecorruptions_img_s"] for nm in common)  # s per image, sev 3
    ours_common = sum(1.0 / results[nm]["ours_img_s"] for nm in common)
    ours2_common = sum(1.0 / results[nm]["ours_2threads_img_s"] for nm in common)
    ref_full_common = ref_common * FULL_IMAGES * len(cc.SEVERITIES)
    summary = {
        "benchmark": "cifar10_c_generation",
        "images": source, "n": n, "imagecorruptions_n": ref_n, "severity": severity,
        "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
        "note": ("imagecorruptions applies ImageNet-C constants per image, not the CIFAR-10-C constants "
                 "implemented here: this compares the cost of generating the sets, not identical outputs"),
        "per_corruption": results,
        "projected_full_cifar10_c_s": {
            "ours_1thread": round(full_1, 1), "ours_2threads": round(full_2, 1),
            "imagecorruptions_over_common_only": round(ref_full_common, 1),
            "definition": "15 benchmark corruptions x 5 severities x 10,000 images from the measured rates"},
        "total_time_ratio_common": {
            "corruptions": common,
            "imagecorruptions_s_per_1000": round(1000 * ref_common, 2),
            "ours_s_per_1000": round(1000 * ours_common, 3),
            "ours_2threads_s_per_1000": round(1000 * ours2_common, 3),
            "ratio_1thread": round(ref_common / ours_common, 1) if common else None,
            "ratio_2threads": round(ref_common / ours2_common, 1) if common else None},
        "imagecorruptions_failed": sorted(nm for nm in cc.ALL if "imagecorruptions_error" in results[nm]),
        "targets": {"full_cifar10_c_under_180s_1thread": full_1 < TARGET_FULL_S,
                    "full_cifar10_c_under_180s_2threads": full_2 < TARGET_FULL_S,
                    "at_least_5x_imagecorruptions_total_1thread":
                        bool(common) and ref_common / ours_common >= TARGET_RATIO},
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
