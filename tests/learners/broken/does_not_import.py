"""A solution that forgot an import: it cannot be graded, and the run says so in one line."""
import numpy as np

TINY = np.finfo(tf.float32.as_numpy_dtype).tiny  # noqa: F821 - the slip: tensorflow was never imported


def softmax(logits, axis=-1):
    e = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
