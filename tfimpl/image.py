"""Image preprocessing in TensorFlow (the book's 7.2): the tf.image ops as a reader calls them.

TF1 (the book)                                       TF2
  tf.image.decode_png / decode_jpeg                    the same (tf.io.decode_png)
  tf.image.convert_image_dtype(img, tf.float32)        the same
  tf.image.resize_images(img, [h, w], method=0)        tf.image.resize(img, [h, w]): half-pixel
    (legacy grid: ``resize_v1`` below)                   centres, so the pixels differ
  tf.image.random_flip_left_right(img)                 tf.image.stateless_random_flip_left_right(img, seed)
  tf.image.random_brightness(img, 32. / 255.)          tf.image.stateless_random_brightness(img, 32. / 255., seed)
  tf.image.sample_distorted_bounding_box(shape, bbox)  tf.image.stateless_sample_distorted_bounding_box(..., seed)
  tf.image.per_image_standardization(img)              the same

TF computes grayscale, brightness, contrast, standardisation and bilinear resizing in float32
whatever the image (tests/test_image.py pins it for float64). Where its op returns float32 for
a float16, bfloat16 or float64 image (bilinear resize, per_image_standardization) the result is
cast back, so a pipeline keeps its dtype; ``resize`` casts such an image to float32 before
resizing (the same numbers), because XLA's gradient of a resize in those dtypes is garbage.
``adjust_contrast``, ``adjust_saturation`` and ``adjust_hue`` cast float16 to float32 around TF's
op, which has no float16 CPU kernel, as TF's own wrappers do for bfloat16 and float64.

The random choices of the training chain are drawn by ``sample_distortions`` from a seed pair
with the stateless ops' own draws, read back as numbers, and ``preprocess_for_train`` applies
them: reference/image.py has the same chain in NumPy for the same choices.
"""
import numpy as np
import tensorflow as tf

from reference._checks import message
# The book's constants are plain values, shared: GRAY_WEIGHTS are tf.image.rgb_to_grayscale's
# (image_ops_impl.py: rgb_weights = [0.2989, 0.5870, 0.1140]), DISTORTION_RANGES the book's draws,
# CROP_LAW the crop's parameters (tf.image.sample_distorted_bounding_box's defaults, min_object_covered 0.1).
from reference.image import CROP_LAW, DISTORTION_RANGES, GRAY_WEIGHTS  # noqa: F401
from tfimpl import _checks as check
from tfimpl._autodiff import vjp
from tfimpl._checks import _require, _runtime_text, _shape_of

# Of TF's resize methods (tf.image.ResizeMethod: bilinear, nearest, bicubic, area, lanczos3, ...), the
# book's two: TF1's resize_images names them by number, ResizeMethod.BILINEAR = 0, NEAREST_NEIGHBOR = 1.
_METHODS = (tf.image.ResizeMethod.BILINEAR, tf.image.ResizeMethod.NEAREST_NEIGHBOR)
_V1_METHODS = {tf.image.ResizeMethod.BILINEAR: tf.compat.v1.image.ResizeMethod.BILINEAR,
               tf.image.ResizeMethod.NEAREST_NEIGHBOR: tf.compat.v1.image.ResizeMethod.NEAREST_NEIGHBOR}


# --- conversions ---------------------------------------------------------------------

def convert_image_dtype(image, dtype, saturate=False):
    """tf.image.convert_image_dtype: integer -> float multiplies by 1 / MAX (as a float of the
    target dtype); float -> integer multiplies by MAX + 0.5 in the image's dtype and casts
    (truncates), clipping first only with ``saturate``; float -> float casts."""
    _check_image_dtype(image)
    _check_image_dtype(tf.zeros([0], dtype), "dtype")
    return tf.image.convert_image_dtype(image, dtype, saturate=saturate)


# --- geometry ------------------------------------------------------------------------

def flip_left_right(image):
    """tf.image.flip_left_right: reverse the width axis."""
    _check_image(image)
    return tf.image.flip_left_right(image)


def central_crop(image, central_fraction):
    """tf.image.central_crop: start = int((n - n * f) / 2) along height and width, keep n - 2 * start."""
    _check_image(image)
    _check_fraction(central_fraction)
    return tf.image.central_crop(image, central_fraction)


# --- colour ---------------------------------------------------------------------------

def rgb_to_grayscale(image):
    """tf.image.rgb_to_grayscale: tensordot with (0.2989, 0.5870, 0.1140) in float32."""
    _check_image(image)
    image = _check_channels(image, 3)
    return tf.image.rgb_to_grayscale(image)


def adjust_brightness(image, delta):
    """tf.image.adjust_brightness: image + delta (float16 and float32 in place, other dtypes in float32)."""
    _check_image(image)
    return tf.image.adjust_brightness(image, delta)


def adjust_contrast(image, contrast_factor):
    """tf.image.adjust_contrast: (x - mean) * contrast_factor + mean, mean per image and channel.

    TF's Python wrapper hands float16 straight to the AdjustContrastv2 kernel, which has no
    float16 CPU kernel (eager: NotFoundError, graph: InvalidArgumentError); here float16 goes
    through float32 and back, as TF's wrapper itself does for bfloat16 and float64."""
    _check_image(image)
    image = tf.convert_to_tensor(image)
    if image.dtype == tf.float16:
        return tf.cast(tf.image.adjust_contrast(tf.cast(image, tf.float32), contrast_factor), tf.float16)
    return tf.image.adjust_contrast(image, contrast_factor)


def per_image_standardization(image):
    """tf.image.per_image_standardization: (x - mean) / max(std, 1 / sqrt(N)), computed in float32;
    the result cast back to a float image's dtype (TF returns float32; integer images stay float32)."""
    _check_image(image)
    image = tf.convert_to_tensor(image)
    return _back_to(image.dtype, tf.image.per_image_standardization(image))


def adjust_saturation(image, saturation_factor):
    """tf.image.adjust_saturation (float16 through float32: no float16 CPU kernel, as contrast)."""
    _check_image(image)
    image = _check_channels(image, 3)
    return _through_float32(tf.image.adjust_saturation, image, saturation_factor)


def adjust_hue(image, delta):
    """tf.image.adjust_hue (float16 through float32: no float16 CPU kernel, as contrast)."""
    _check_image(image)
    image = _check_channels(image, 3)
    return _through_float32(tf.image.adjust_hue, image, delta)


def _through_float32(op, image, *args):
    image = tf.convert_to_tensor(image)
    if image.dtype == tf.float16:
        return tf.cast(op(tf.cast(image, tf.float32), *args), tf.float16)
    return op(image, *args)


# --- resizing -----------------------------------------------------------------------------

def resize(image, size, method="bilinear", antialias=False):
    """tf.image.resize (TF2): ResizeBilinear / ResizeNearestNeighbor with half_pixel_centers=True,
    ScaleAndTranslate with a triangle kernel for ``antialias``.

    Bilinear resizing computes in float32 whatever the image (the kernels read any dtype as float
    and write float32), so a float16, bfloat16 or float64 image is cast to float32 first and the
    result cast back: the same numbers, and a gradient that XLA gets right (under jit_compile,
    ResizeBilinearGrad for those dtypes returns garbage: tests/test_image.py). uint8 images give
    float32, as TF's; "nearest" copies pixels and keeps the dtype."""
    _check_resize(image, size, method)
    image = tf.convert_to_tensor(image)
    if method == "bilinear" and image.dtype.is_floating and image.dtype != tf.float32:
        return tf.cast(tf.image.resize(tf.cast(image, tf.float32), size, antialias=antialias), image.dtype)
    return tf.image.resize(image, size, method=method, antialias=antialias)


def resize_v1(image, size, method="bilinear"):
    """The book's TF1 call, run in a Session::

        resized = tf.image.resize_images(img_data, [300, 300], method=0)   # 0 bilinear, 1 nearest
        with tf.Session() as sess: sess.run(resized)

    tf.compat.v1.image.resize_images: half_pixel_centers=False (the legacy grid). Float
    output cast back to a float image's dtype, as ``resize``."""
    _check_resize(image, size, method)
    image = np.asarray(image)
    graph = tf.Graph()
    with graph.as_default():
        img_data = tf.compat.v1.placeholder(tf.as_dtype(image.dtype), image.shape)
        resized = _back_to(img_data.dtype, tf.compat.v1.image.resize_images(img_data, size,
                                                                             method=_V1_METHODS[method]))
        with tf.compat.v1.Session(graph=graph) as sess:
            return sess.run(resized, feed_dict={img_data: image})


def resize_weights(n_in, n_out, method="bilinear", antialias=False, half_pixel_centers=True):
    """The weights W (n_out, n_in) TensorFlow resizes with, read back: resize the n_in unit
    impulses (an image of height n_in, width 1 and n_in channels, channel s the impulse at s)
    to height n_out; output row i, channel s is W[i, s]. tf.image.resize (TF2) or, with
    ``half_pixel_centers=False``, TF1's tf.compat.v1.image.resize_images."""
    impulses = tf.eye(n_in, dtype=tf.float32)[:, None, :]
    if half_pixel_centers:
        out = tf.image.resize(impulses, [n_out, 1], method=method, antialias=antialias)
    else:
        out = tf.compat.v1.image.resize_images(impulses, [n_out, 1], method=_V1_METHODS[method])
    return tf.cast(out[:, 0, :], tf.float32)


def _back_to(dtype, y):
    """y cast to ``dtype`` where that is a float dtype and differs (TF's op returned float32)."""
    return tf.cast(y, dtype) if dtype.is_floating and y.dtype != dtype else y


# --- the book's training chain ----------------------------------------------------------

def distort_color(image, color_ordering, brightness, saturation, hue, contrast):
    """The book's distort_color with its random draws given::

        if color_ordering == 0:
            image = tf.image.random_brightness(image, max_delta=32. / 255.)
            image = tf.image.random_saturation(image, lower=0.5, upper=1.5)
            image = tf.image.random_hue(image, max_delta=0.2)
            image = tf.image.random_contrast(image, lower=0.5, upper=1.5)
        elif color_ordering == 1:
            (saturation, brightness, contrast, hue)
        return tf.clip_by_value(image, 0.0, 1.0)

    Each random_* op is adjust_* with a factor it draws; here the factors are arguments."""
    check.one_of(color_ordering, (0, 1), "color_ordering")
    steps = {"b": lambda x: adjust_brightness(x, brightness), "s": lambda x: adjust_saturation(x, saturation),
             "h": lambda x: adjust_hue(x, hue), "c": lambda x: adjust_contrast(x, contrast)}
    for step in ("bshc", "sbch")[color_ordering]:
        image = steps[step](image)
    return tf.clip_by_value(image, 0.0, 1.0)


def preprocess_for_train(image, height, width, distortions):
    """The book's preprocess_for_train with its random choices given (``sample_distortions``)::

        if image.dtype != tf.float32:
            image = tf.image.convert_image_dtype(image, dtype=tf.float32)
        bbox_begin, bbox_size, _ = tf.image.sample_distorted_bounding_box(tf.shape(image), bounding_boxes=bbox)
        distorted_image = tf.slice(image, bbox_begin, bbox_size)
        distorted_image = tf.image.resize_images(distorted_image, [height, width], method=np.random.randint(4))
        distorted_image = tf.image.random_flip_left_right(distorted_image)
        distorted_image = distort_color(distorted_image, np.random.randint(2))

    TF2: tf.image.resize (half-pixel centres), the flip and the colour factors as drawn."""
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.float32:
        image = tf.image.convert_image_dtype(image, dtype=tf.float32)
    (top, left), (h, w) = distortions["begin"], distortions["size"]
    image = tf.slice(image, [top, left, 0], [h, w, -1])
    image = resize(image, (height, width), method=distortions["method"])
    if distortions["flip"]:
        image = flip_left_right(image)
    return distort_color(image, distortions["color_ordering"], distortions["brightness"],
                         distortions["saturation"], distortions["hue"], distortions["contrast"])


def sample_distortions(image_shape, seed, bbox=None):
    """The random choices of preprocess_for_train from a seed pair, as the stateless ops draw them.

    The seed is split into 8 (tf.random.experimental.stateless_split); with seeds[k]:
    the box is tf.image.stateless_sample_distorted_bounding_box(image_shape, bbox, seeds[0],
    **CROP_LAW) (TF's defaults, min_object_covered=0.1); the method and the colour ordering are
    stateless_uniform integers in {0, 1} (seeds[1], seeds[3]); the flip is stateless_uniform() < 0.5 (seeds[2]), the decision
    tf.image.stateless_random_flip_left_right(hwc_image, seeds[2]) makes; each colour factor is
    the stateless_uniform draw tf.image.stateless_random_brightness / _saturation / _hue /
    _contrast makes with seeds[4..7] and the book's ranges. The draws are ``_draws``, tensors in
    one traceable function (a batch of seeds maps through it in one graph), read back here as
    Python numbers."""
    begin, size, method, flip, ordering, factors = _draws(tuple(image_shape), seed, bbox)
    return dict(begin=tuple(int(v) for v in begin), size=tuple(int(v) for v in size), method=_METHODS[int(method)],
                flip=bool(flip), color_ordering=int(ordering),
                **{name: float(v) for name, v in zip(_FACTORS, factors.numpy())})


_FACTORS = ("brightness", "saturation", "hue", "contrast")  # drawn with seeds[4..7]


def _draws(image_shape, seed, bbox=None):
    """sample_distortions's draws as tensors: the crop's begin and size (height, width), the method's
    index, the flip, the colour ordering, the four colour factors (float32, in _FACTORS order)."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=8)
    box = tf.reshape(tf.constant([0.0, 0.0, 1.0, 1.0] if bbox is None else bbox, tf.float32), [1, -1, 4])
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.constant(tuple(image_shape), tf.int32), bounding_boxes=box, seed=seeds[0], **CROP_LAW)

    def uniform(k, low=0.0, high=1.0):
        return tf.random.stateless_uniform([], seed=seeds[k], minval=low, maxval=high)

    def integer(k):
        return tf.random.stateless_uniform([], seed=seeds[k], minval=0, maxval=2, dtype=tf.int32)
    factors = tf.stack([uniform(k, *DISTORTION_RANGES[name]) for k, name in zip((4, 5, 6, 7), _FACTORS)])
    return begin[:2], size[:2], integer(1), uniform(2) < 0.5, integer(3), factors


# --- derivatives: GradientTape's pull-back of dy through each function above ------------------
flip_left_right_vjp = vjp(flip_left_right)
rgb_to_grayscale_vjp = vjp(rgb_to_grayscale)
adjust_brightness_vjp = vjp(adjust_brightness)
central_crop_vjp = vjp(central_crop)
per_image_standardization_vjp = vjp(per_image_standardization)
resize_vjp = vjp(resize)
convert_image_dtype_vjp = vjp(convert_image_dtype)


# --- checks -------------------------------------------------------------------------------

def _check_image_dtype(image, name="image"):
    check.real(image, name)


def _check_image(image):
    """A real-valued HWC image or NHWC batch: the rank is known while tracing."""
    _check_image_dtype(image)
    rank = check._static(image)[1].rank
    if rank is not None and rank not in (3, 4):
        raise ValueError(message("image_rank", name="image", ndim=rank, shape=check._text(check._static(image)[1])))


def _check_channels(image, channels):
    """The last dimension is ``channels``: at trace time where it is known, else a runtime assert."""
    shape = check._static(image)[1]
    last = tf.compat.dimension_value(shape[-1])
    if last is not None:
        if last != channels:
            raise ValueError(message("last_dim", name="image", size=channels, what="channels",
                                     shape=check._text(shape)))
        return image
    image = tf.convert_to_tensor(image)
    return _require(tf.equal(_shape_of(image)[-1], channels), image, "last_dim", name="image", size=channels,
                    what="channels", shape=_runtime_text(_shape_of(image)))


def _check_fraction(central_fraction):
    check.positive(central_fraction=central_fraction)
    check.in_unit_interval(central_fraction=central_fraction)


def _check_resize(image, size, method):
    _check_image(image)
    check.one_of(method, _METHODS, "method")
    check.size_pair(size, "size")
