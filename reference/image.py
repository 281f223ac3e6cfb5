"""Image preprocessing (the book's 7.2): flips, grayscale, brightness and contrast, crops,
standardisation, resizing and the conversions between uint8 and float images.

An image is HWC (height, width, channels) or a batch NHWC. A float image holds values in
[0, 1]; a uint8 image holds 0..255, and ``convert_image_dtype`` maps one to the other:
k -> k / 255 on the way in, x -> x * 255.5 truncated on the way out (saturated to 0..255 where
asked, and always inside the colour adjustments). Each function mirrors the tf.image op named
in its docstring with TF's own conventions, which tests/test_image.py pins one by one: the
grayscale weights, half-pixel centres in resize, the contrast mean per channel, the floor on
the standard deviation and the conversion to uint8.

Resizing is one formula for every method: along each axis the output pixel i is centred at
c_i = (i + 1/2) * in / out in input coordinates (input pixel s is centred at s + 1/2), and
out_i = sum_s W[i, s] x_s, so the whole resize is the separable product Wh @ x @ Ww.T and its
gradient the transposed product Wh.T @ dy @ Ww.

``preprocess_for_train`` is the book's training chain (crop, resize, flip, colour jitter in one
of two orders, clip to [0, 1]) with its random choices given; ``sample_distortions`` draws them.
"""
import numpy as np

from reference import _checks as check
from reference._checks import in_float64

GRAY_WEIGHTS = {"R": 0.2989, "G": 0.5870, "B": 0.1140}
"""The luma weights of tf.image.rgb_to_grayscale (Rec. 601 rounded to 4 digits: they sum to 0.9999)."""

_METHODS = ("bilinear", "nearest")  # of tf.image.ResizeMethod's eight, the book's method=0 and method=1


# --- conversions ---------------------------------------------------------------------

def convert_image_dtype(image, dtype, saturate=False):
    """Mirrors tf.image.convert_image_dtype between uint8 and float images.

    uint8 -> float: k / 255. float -> uint8: x * 255.5 truncated toward 0 (the cast), the product
    rounded to the image's own dtype first (TF multiplies in it): every k / 255 comes back as k,
    and a value rounds up only in the top half-step (0.5 -> 127). ``saturate`` clips to [0, 255]
    first; without it an out-of-range value wraps modulo 256 (1.2 -> 306 -> 50), as TF's cast does.
    float -> float rounds to the nearest value of ``dtype``; integer -> integer shifts by the
    difference in bits (uint8 -> int16: k * 128, back: k // 128)."""
    image = np.asarray(image)
    dtype = np.dtype(_dtype_name(dtype))
    _check_image_dtype(image)
    _check_image_dtype(np.empty(0, dtype), "dtype")
    if image.dtype == dtype:
        return image.copy()
    if check.is_floating(image.dtype) and check.is_floating(dtype):
        with np.errstate(over="ignore"):
            return image.astype(dtype)
    if check.is_floating(dtype):  # integer -> float
        return (image.astype(np.float64) / np.iinfo(image.dtype).max).astype(dtype)
    if not check.is_floating(image.dtype):  # integer -> integer, in the wider range
        top_in, top_out = np.iinfo(image.dtype).max, np.iinfo(dtype).max
        if top_in > top_out:
            scaled = image.astype(np.int64) // ((top_in + 1) // (top_out + 1))
            return (np.clip(scaled, np.iinfo(dtype).min, top_out) if saturate else scaled).astype(dtype)
        cast = np.clip(image, max(np.iinfo(image.dtype).min, np.iinfo(dtype).min), top_out) if saturate else image
        return cast.astype(dtype) * dtype.type((top_out + 1) // (top_in + 1))
    top = np.iinfo(dtype).max
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.trunc((image * image.dtype.type(top + 0.5)).astype(image.dtype).astype(np.float64))
    if saturate:
        return np.clip(scaled, 0, top).astype(dtype)
    return np.mod(scaled, top + 1).astype(dtype)  # what the cast does to what does not fit


def _dtype_name(dtype):
    return getattr(dtype, "name", dtype) if not isinstance(dtype, str) else dtype


def _floats(image):
    """The image as float64 values in [0, 1] (uint8 through convert_image_dtype), and a function
    that returns a float64 result to the image's own dtype (uint8 saturated, as TF's adjustments do)."""
    if check.is_floating(image.dtype):
        return image.astype(np.float64), lambda y: y
    return (convert_image_dtype(image, "float64"),
            lambda y: convert_image_dtype(np.asarray(y, np.float64), image.dtype, saturate=True))


# --- geometry ------------------------------------------------------------------------

def flip_left_right(image):
    """image[..., h, W - 1 - w, c]: the width axis reversed. Mirrors tf.image.flip_left_right
    (any dtype, exact)."""
    image = np.asarray(image)
    _check_image(image)
    return np.flip(image, axis=-2)


def central_crop(image, central_fraction):
    """The central rows and columns: along each axis of n pixels, start = int((n - n * f) / 2)
    and keep n - 2 * start, so a crop keeps at least f * n pixels and up to 2 more, centred.
    Mirrors tf.image.central_crop (exact)."""
    image = np.asarray(image)
    _check_image(image)
    _check_fraction(central_fraction)
    h, w = image.shape[-3:-1]
    top, left = int((h - h * central_fraction) / 2), int((w - w * central_fraction) / 2)
    return image[..., top:h - top, left:w - left, :]


# --- colour ---------------------------------------------------------------------------

def rgb_to_grayscale(image):
    """gray = 0.2989 R + 0.5870 G + 0.1140 B, keeping a last axis of 1. Mirrors
    tf.image.rgb_to_grayscale (uint8 in, uint8 out through convert_image_dtype)."""
    image = np.asarray(image)
    _check_image(image)
    _check_channels(image, 3)
    x, back = _floats(image)
    return _same_float(image, back(x @ np.array(list(GRAY_WEIGHTS.values())))[..., None])


def adjust_brightness(image, delta):
    """image + delta. Mirrors tf.image.adjust_brightness; uint8 images are converted to float,
    shifted and converted back with saturation (200 + 100 / 255 stays 255)."""
    image = np.asarray(image)
    _check_image(image)
    x, back = _floats(image)
    return _same_float(image, back(x + delta))


def adjust_contrast(image, contrast_factor):
    """(x - mean) * contrast_factor + mean, the mean taken per image and per channel over
    height and width. Mirrors tf.image.adjust_contrast."""
    image = np.asarray(image)
    _check_image(image)
    x, back = _floats(image)
    mean = x.mean(axis=(-3, -2), keepdims=True)
    return _same_float(image, back((x - mean) * contrast_factor + mean))


def per_image_standardization(image):
    """(x - mean) / max(std, 1 / sqrt(N)) per image, N = H * W * C values, std with 1 / N.
    The floor keeps a uniform image finite (it becomes 0) and scales a nearly uniform one by
    sqrt(N) instead of to unit variance. Mirrors tf.image.per_image_standardization
    (uint8 values are taken as they are, 0..255; the result is float32 for them)."""
    image = np.asarray(image)
    _check_image(image)
    x = image.astype(np.float64)
    mean, std = x.mean(axis=(-3, -2, -1), keepdims=True), x.std(axis=(-3, -2, -1), keepdims=True)
    y = (x - mean) / np.maximum(std, 1 / np.sqrt(np.prod(image.shape[-3:])))
    return _same_float(image, y, integer_to="float32")


def adjust_saturation(image, saturation_factor):
    """RGB -> HSV, s <- clip(s * saturation_factor, 0, 1), HSV -> RGB. Mirrors
    tf.image.adjust_saturation."""
    image = np.asarray(image)
    _check_image(image)
    _check_channels(image, 3)
    x, back = _floats(image)
    h, s, v = _rgb_to_hsv(x)
    return _same_float(image, back(_hsv_to_rgb(h, np.clip(s * saturation_factor, 0, 1), v)))


def adjust_hue(image, delta):
    """RGB -> HSV, h <- (h + delta) mod 1, HSV -> RGB. Mirrors tf.image.adjust_hue."""
    image = np.asarray(image)
    _check_image(image)
    _check_channels(image, 3)
    x, back = _floats(image)
    h, s, v = _rgb_to_hsv(x)
    return _same_float(image, back(_hsv_to_rgb(np.mod(h + delta, 1.0), s, v)))


def _rgb_to_hsv(x):
    """h in [0, 1) (a sixth per sector from red), s = range / max (0 where max <= 0), v = max;
    the formulas of TF's AdjustSaturation kernel, which also serve values outside [0, 1]."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    rng = v - x.min(axis=-1)
    s = np.where(v > 0, rng / np.where(v > 0, v, 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(r == v, (g - b) / (6 * rng), np.where(g == v, (b - r) / (6 * rng) + 2 / 6,
                                                           (r - g) / (6 * rng) + 4 / 6))
    h = np.where(rng > 0, h, 0.0)
    return np.where(h < 0, h + 1, h), s, v


def _hsv_to_rgb(h, s, v):
    """The inverse: chroma c = s v, sector k = int(6 h), x = c (1 - |6 h mod 2 - 1|), plus m = v - c."""
    c, dh = s * v, 6 * h
    x = c * (1 - np.abs(np.mod(dh, 2) - 1))
    z = np.zeros_like(c)
    sectors = [(c, x, z), (x, c, z), (z, c, x), (z, x, c), (x, z, c), (c, z, x)]
    k = np.clip(dh.astype(int), 0, 5)
    rgb = np.stack([np.choose(k, [sec[i] for sec in sectors]) for i in range(3)], axis=-1)
    return rgb + (v - c)[..., None]


# --- resizing -----------------------------------------------------------------------------

def resize(image, size, method="bilinear", antialias=False):
    """Wh @ x @ Ww.T per image and channel (see resize_weights). Mirrors tf.image.resize
    (TF2): half-pixel centres, output float32 for uint8 input ("nearest" keeps the dtype)."""
    image = np.asarray(image)
    _check_resize(image, size, method)
    wh, ww = (resize_weights(n, m, method, antialias) for n, m in zip(image.shape[-3:-1], size))
    return _resized(image, wh, ww, method)


def resize_v1(image, size, method="bilinear"):
    """The book's tf.image.resize_images(image, size, method) (TF1; tf.compat.v1.image.resize_images):
    the legacy grid, output pixel i sampled at i * in / out instead of at its centre, so the
    picture shifts by half an input pixel against TF2's resize."""
    image = np.asarray(image)
    _check_resize(image, size, method)
    wh, ww = (resize_weights(n, m, method, False, half_pixel_centers=False)
              for n, m in zip(image.shape[-3:-1], size))
    return _resized(image, wh, ww, method)


def _along(w, x, axis):
    """out_i = sum over s with W[i, s] > 0 of W[i, s] x_s along ``axis``: a pixel outside an output's
    footprint does not reach it, so an inf or NaN pixel stays in its neighbourhood."""
    x = np.moveaxis(x, axis, -1)[..., None, :]
    with np.errstate(invalid="ignore"):
        y = np.where(w > 0, w * x, 0.0).sum(axis=-1)
    return np.moveaxis(y, -1, axis)


def resize_weights(n_in, n_out, method="bilinear", antialias=False, half_pixel_centers=True):
    """W (n_out, n_in) along one axis: out_i = sum_s W[i, s] x_s.

    Output pixel i sits at c_i = (i + 1/2) * n_in / n_out, input pixel s at s + 1/2 (half-pixel
    centres). "nearest" takes the pixel whose cell holds c_i: s = floor(c_i), a tie going to the
    right. "bilinear" weights each input pixel by the triangle max(0, 1 - |s + 1/2 - c_i| / k),
    normalised to sum 1 (so an edge pixel takes all the weight outside the image): k = 1 is
    interpolation between the two nearest pixels; ``antialias`` stretches it to k = n_in / n_out
    when downsampling, averaging every pixel under the output pixel. ``half_pixel_centers=False``
    is TF1's legacy grid: sample at i * n_in / n_out, pixel s at s."""
    if half_pixel_centers:
        centre, pixel = (np.arange(n_out) + 0.5) * n_in / n_out, np.arange(n_in) + 0.5
    else:
        centre, pixel = np.arange(n_out) * n_in / n_out, np.arange(n_in)
    if method == "nearest":
        return np.eye(n_in)[np.minimum(np.floor(centre), n_in - 1).astype(int)]
    width = max(n_in / n_out, 1.0) if antialias else 1.0
    w = np.maximum(0.0, 1 - np.abs(pixel - centre[:, None]) / width)
    return w / w.sum(axis=1, keepdims=True)


def _resized(image, wh, ww, method):
    y = _along(ww, _along(wh, image.astype(np.float64), -3), -2)
    if method == "nearest":
        return y.astype(image.dtype)  # a selection: exact in any dtype
    return _same_float(image, y, integer_to="float32")


# --- the book's training chain ----------------------------------------------------------

def distort_color(image, color_ordering, brightness, saturation, hue, contrast):
    """The book's distort_color with its random draws given: ordering 0 is brightness, saturation,
    hue, contrast; ordering 1 is saturation, brightness, contrast, hue; then clip to [0, 1]
    (the adjustments can leave it)."""
    check.one_of(color_ordering, (0, 1), "color_ordering")
    steps = {"b": lambda x: adjust_brightness(x, brightness), "s": lambda x: adjust_saturation(x, saturation),
             "h": lambda x: adjust_hue(x, hue), "c": lambda x: adjust_contrast(x, contrast)}
    for step in ("bshc", "sbch")[color_ordering]:
        image = steps[step](image)
    return np.clip(image, 0.0, 1.0)


def preprocess_for_train(image, height, width, distortions):
    """The book's preprocess_for_train with its random choices given (``sample_distortions``):
    uint8 -> float, crop to the box [begin, begin + size), resize to (height, width) with
    ``method``, flip left-right if ``flip``, distort_color, clip to [0, 1]. One HWC image, in
    float64 throughout (TF's chain runs in float32)."""
    image = np.asarray(image)
    image = convert_image_dtype(image, "float64") if not check.is_floating(image.dtype) else image.astype(np.float64)
    (top, left), (h, w) = distortions["begin"], distortions["size"]
    image = image[top:top + h, left:left + w, :]
    image = resize(image, (height, width), method=distortions["method"])
    if distortions["flip"]:
        image = flip_left_right(image)
    return distort_color(image, distortions["color_ordering"], distortions["brightness"],
                         distortions["saturation"], distortions["hue"], distortions["contrast"])


DISTORTION_RANGES = {"brightness": (-32 / 255, 32 / 255), "saturation": (0.5, 1.5), "hue": (-0.2, 0.2),
                     "contrast": (0.5, 1.5)}
"""The book's ranges: random_brightness(max_delta=32/255), random_saturation(0.5, 1.5),
random_hue(0.2), random_contrast(0.5, 1.5)."""


CROP_LAW = {"min_object_covered": 0.1, "aspect_ratio_range": (0.75, 1.33), "area_range": (0.05, 1.0),
            "max_attempts": 100}
"""tf.image.(stateless_)sample_distorted_bounding_box's defaults, which the chain's crop takes."""


def sample_distortions(image_shape, seed, bbox=None):
    """The random choices of preprocess_for_train, drawn with NumPy's generator from ``seed``:
    the crop box by the law of tf.image.sample_distorted_bounding_box (``_sample_crop``) with its
    defaults (CROP_LAW) and ``bbox`` (default: the whole image), a resize method (uniform over
    the two), a flip (probability 1/2), a colour ordering (uniform over the two) and the four
    colour factors, uniform in DISTORTION_RANGES, all independent. The same law as tfimpl's
    draws, not the same stream: to reproduce TF's image, pass TF's choices to preprocess_for_train."""
    rng = np.random.default_rng(seed)
    boxes = np.array([[0.0, 0.0, 1.0, 1.0]]) if bbox is None else np.asarray(bbox, np.float64).reshape(-1, 4)
    top, left, h, w = _sample_crop(rng, image_shape[0], image_shape[1], boxes)
    draws = {k: float(rng.uniform(*r)) for k, r in DISTORTION_RANGES.items()}
    return dict(begin=(top, left), size=(h, w), method=_METHODS[int(rng.integers(0, 2))],
                flip=bool(rng.uniform() < 0.5), color_ordering=int(rng.integers(0, 2)), **draws)


def _sample_crop(rng, height, width, boxes, law=None):
    """(top, left, h, w): the law of TF's SampleDistortedBoundingBox kernel
    (tensorflow/core/kernels/image/sample_distorted_bounding_box_op.cc). Up to max_attempts
    attempts, each a ``_random_crop`` with an aspect ratio w / h uniform in aspect_ratio_range,
    kept if it covers at least min_object_covered of one of the boxes, each box in whole pixels
    (int(y * height), int(x * width), truncated); after max_attempts failures, the whole image.
    The thresholds are the kernel's float32 products, so ties fall as they fall there."""
    law = dict(CROP_LAW, **(law or {}))
    pixels = [(int(np.float32(b[0]) * height), int(np.float32(b[1]) * width), int(np.float32(b[2]) * height),
               int(np.float32(b[3]) * width)) for b in boxes]
    for _ in range(law["max_attempts"]):
        crop = _random_crop(rng, height, width, rng.uniform(*law["aspect_ratio_range"]), law["area_range"])
        if crop is not None and _covers(crop, pixels, law["min_object_covered"]):
            return crop
    return 0, 0, height, width


def _random_crop(rng, height, width, ratio, area_range):
    """One attempt (the kernel's GenerateRandomCrop): the crop's height uniform on the integers from
    round(sqrt(min_area / ratio)) to round(sqrt(max_area / ratio)) (min_area, max_area: area_range
    times height * width), the top cut to ``height`` and to the largest h with round(h ratio) <=
    width; w = round(h ratio), h moved by one (up, then down) if h w leaves [min_area, max_area],
    None if it still does. The offsets are uniform on 0 .. height - h - 1 and 0 .. width - w - 1
    (0 where the crop spans the axis): the kernel draws Uniform(height - h), below height - h, so a
    crop smaller than the image never touches its bottom or right edge."""
    min_area = np.float32(area_range[0]) * np.float32(width) * np.float32(height)
    max_area = np.float32(area_range[1]) * np.float32(width) * np.float32(height)
    low, high = int(np.rint(np.sqrt(min_area / ratio))), int(np.rint(np.sqrt(max_area / ratio)))
    if np.rint(high * ratio) > width:
        high = int((width + 0.5 - 1e-7) / ratio)
        high -= int(np.rint(high * ratio) > width)
    high = min(high, height)
    h = high if low >= high else low + int(rng.integers(high - low + 1))
    w = int(np.rint(h * ratio))
    if w * h < min_area:
        h += 1
        w = int(np.rint(h * ratio))
    if w * h > max_area:
        h -= 1
        w = int(np.rint(h * ratio))
    if not (min_area <= w * h <= max_area and 0 < w <= width and 0 < h <= height):
        return None
    top = int(rng.integers(height - h)) if h < height else 0
    left = int(rng.integers(width - w)) if w < width else 0
    return top, left, h, w


def _covers(crop, pixels, min_object_covered):
    """The crop holds at least min_object_covered of one box with an area of at least one pixel
    (the kernel's SatisfiesOverlapConstraints, the fraction in float32)."""
    top, left, h, w = crop
    for y0, x0, y1, x1 in pixels:
        area = (y1 - y0) * (x1 - x0)
        inside = max(0, min(y1, top + h) - max(y0, top)) * max(0, min(x1, left + w) - max(x0, left))
        if area >= 1 and np.float32(inside) / np.float32(area) >= np.float32(min_object_covered):
            return True
    return False


# --- derivatives -----------------------------------------------------------------------------

@in_float64
def flip_left_right_vjp(image, dy):
    """A permutation's pull-back is the inverse permutation: dy flipped back."""
    return np.flip(dy, axis=-2)


@in_float64
def rgb_to_grayscale_vjp(image, dy):
    """d gray / d (R, G, B) = the weights: dy * (0.2989, 0.5870, 0.1140)."""
    return dy * np.array(list(GRAY_WEIGHTS.values()))


@in_float64
def adjust_brightness_vjp(image, dy, delta):
    """d (x + delta) / dx = 1: dy unchanged."""
    return dy


@in_float64
def central_crop_vjp(image, dy, central_fraction):
    """dy in the crop's place, zeros around it."""
    out = np.zeros_like(image)
    h, w = image.shape[-3:-1]
    top, left = int((h - h * central_fraction) / 2), int((w - w * central_fraction) / 2)
    out[..., top:h - top, left:w - left, :] = dy
    return out


@in_float64
def per_image_standardization_vjp(image, dy):
    """y = (x - m) / s per image, s = max(std, 1 / sqrt(N)). With std above its floor,
    dx = (dy - mean(dy) - y mean(dy y)) / s (std moves with x: d std / dx_i = (x_i - m) / (N std));
    below it s is a constant and dx = (dy - mean(dy)) / s."""
    axes = (-3, -2, -1)
    n = np.prod(image.shape[-3:])
    std = image.std(axis=axes, keepdims=True)
    s = np.maximum(std, 1 / np.sqrt(n))
    y = (image - image.mean(axis=axes, keepdims=True)) / s
    through_std = np.where(std >= 1 / np.sqrt(n), y * np.mean(dy * y, axis=axes, keepdims=True), 0.0)
    return (dy - dy.mean(axis=axes, keepdims=True) - through_std) / s


@in_float64
def resize_vjp(image, dy, size, method="bilinear", antialias=False):
    """The transposed product Wh.T @ dy @ Ww: each input pixel collects dy from every output
    pixel it contributed to, times its weight there."""
    wh, ww = (resize_weights(n, m, method, antialias) for n, m in zip(image.shape[-3:-1], size))
    return np.einsum("ih,...ijc,jw->...hwc", wh, dy, ww)


def convert_image_dtype_vjp(image, dy, dtype, saturate=False):
    """Between float dtypes a conversion is the identity on values: dy, in the image's dtype.
    Into integers there is no gradient: zeros."""
    image, dy = np.asarray(image), np.asarray(dy)
    if check.is_floating(np.dtype(_dtype_name(dtype))):
        return dy.astype(image.dtype)
    return np.zeros_like(image)


# --- checks -------------------------------------------------------------------------------

def _same_float(image, y, integer_to=None):
    """y in the image's dtype where the image is a float image (float64 arithmetic inside);
    ``integer_to`` for an integer image whose result is float (TF returns float32 there)."""
    if check.is_floating(image.dtype):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(y).astype(image.dtype)
    return np.asarray(y).astype(integer_to) if integer_to else y


def _check_image_dtype(image, name="image"):
    check.real(image, name)


def _check_image(image):
    """A real-valued HWC image or NHWC batch (the same checks, in the same order, as tfimpl)."""
    _check_image_dtype(image)
    if image.ndim not in (3, 4):
        raise ValueError(check.message("image_rank", name="image", ndim=image.ndim, shape=image.shape))


def _check_channels(image, channels):
    if image.shape[-1] != channels:
        raise ValueError(check.message("last_dim", name="image", size=channels, what="channels", shape=image.shape))


def _check_fraction(central_fraction):
    check.positive(central_fraction=central_fraction)
    check.in_unit_interval(central_fraction=central_fraction)


def _check_resize(image, size, method):
    _check_image(image)
    check.one_of(method, _METHODS, "method")
    check.size_pair(size, "size")
