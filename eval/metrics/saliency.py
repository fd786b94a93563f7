"""Loss-gradient visualisations (ANP Fig. 5 / 10) with tf-keras-vis.

``tf_keras_vis.saliency.Saliency`` computes |d score / d input| for a Keras model; the score here is
the cross-entropy loss of the true label, so the maps are the loss gradient w.r.t. input pixels that
ANP shows (max over colour channels, normalised to [0,1] per image by tf-keras-vis).
"""
import numpy as np
import tensorflow as tf


def saliency_maps(keras_model, x, y):
    """[N, H, W] maps in [0,1]; noise is switched off so the map shows the deterministic model."""
    from tf_keras_vis.saliency import Saliency

    import zoo
    labels = tf.constant(y, tf.int32)

    def score(output):
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.cast(output, tf.float32))

    with zoo.inference_noise(keras_model, False):
        saliency = Saliency(keras_model, clone=False)
        maps = saliency(score, tf.constant(x, tf.float32))
    return np.asarray(maps, dtype=np.float32)
