"""One traced function per (model_fn, key): attacks reuse their ``tf.function`` across batches and calls.

A ``tf.function`` retraces for every new Python object it closes over or receives, so an attack that
builds its step function per call (or per batch) traces again every time. ``traced(model_fn, key,
build)`` keeps ``build(model_ref)`` in a weak-keyed table on the model_fn object (a model_fn that is
dropped frees its traces); ``ServedModel.model_fn`` returns one cached object per (mode, eot, eot_mode),
so a whole evaluation traces each attack step once per model, input shape and attack.
``reduce_retracing=True`` lets a smaller last batch (or a batch compacted by early exit) share a trace
with a relaxed shape instead of adding one trace per size.
"""
import weakref

import tensorflow as tf

_CACHE = weakref.WeakKeyDictionary()


def weak(fn):
    """A callable returning ``fn`` without keeping it alive (so cached values do not pin their keys)."""
    try:
        return weakref.ref(fn)
    except TypeError:
        return lambda: fn


def traced(model_fn, key, build):
    """The cached ``tf.function(build(model_ref), reduce_retracing=True)`` of ``model_fn`` under ``key``.

    ``build(model_ref)`` returns the Python function to trace; ``model_ref()`` gives ``model_fn`` back.
    """
    try:
        per_model = _CACHE.setdefault(model_fn, {})
    except TypeError:  # not weak-referenceable: trace without caching
        per_model = {}
    if key not in per_model:
        per_model[key] = tf.function(build(weak(model_fn)), reduce_retracing=True)
    return per_model[key]
