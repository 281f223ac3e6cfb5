"""A learner's resize, chapter 7.2, ported from the book's TF1 code."""
import tensorflow as tf

from tfimpl.image import _check_resize


def resize(image, size, method="bilinear", antialias=False):
    """Bilinear or nearest-neighbour resizing to size = (height, width)."""
    _check_resize(image, size, method)
    image = tf.convert_to_tensor(image)
    old = {"bilinear": tf.compat.v1.image.ResizeMethod.BILINEAR,
           "nearest": tf.compat.v1.image.ResizeMethod.NEAREST_NEIGHBOR}[method]
    resized = tf.compat.v1.image.resize_images(image, size, method=old)  # the mistake: TF1's grid
    return tf.cast(resized, image.dtype) if image.dtype.is_floating else resized
