"""A solution with a typo in an import: it cannot be graded, and the run says so in one line."""
import tensorfow as tf  # noqa: F401


def softmax(logits, axis=-1):
    return tf.nn.softmax(logits, axis=axis)
