"""A solution that swaps itself into tfimpl when imported: the grader refuses it (and undoes it)."""
import tensorflow as tf

import tfimpl.activations


def softmax(logits, axis=-1):
    return tf.nn.softmax(logits, axis=axis)


tfimpl.activations.softmax = softmax
