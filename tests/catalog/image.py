"""Catalog entries: image preprocessing on float images (reference/image.py, tfimpl/image.py).

Every entry takes an HWC image or an NHWC batch; sizes, factors and fractions are keywords
(Python constants). The error models below follow TensorFlow's own code path for each dtype:

- grayscale, brightness, contrast, standardisation and bilinear resize compute in float32
  whatever the image's dtype (image_ops_impl.py converts float64 and bfloat16 to float32; the
  ResizeBilinear kernel reads any dtype as float; per_image_standardization casts to float32).
  So a float64 image is rounded to float32 on the way in (0.5 eps32 of each value) and its result
  carries float32's errors, written in float64's eps (x 2^29); float16 and bfloat16 results carry
  float32's errors plus one final rounding to their own eps;
- antialiased resizing (ScaleAndTranslate, a triangle kernel stretched to in / out when downsampling)
  also computes in float32: its weights from float32 positions and a float32 normalisation, its sums
  sequential over each output's span, rows then columns (scale_and_translate_op.cc); XLA has no
  kernel for it (a ModeRejection);
- flips, crops and nearest-neighbour resizing move values without arithmetic: exact;
- the conversion entry rounds each value to float16 and back (round to nearest, overflow to inf,
  gradual underflow): exact against NumPy's correctly rounded cast, with the rounding back to
  bfloat16 as its only error.

A model returns, per element, the error bound in units of eps(dtype) (harness: Tol.model); each
``*_error`` below states what it charges. tests/test_image.py pins the conventions themselves.
"""
import numpy as np
import tensorflow as tf
from hypothesis import strategies as st

import reference.image as R
import tfimpl.image as T
from tests.catalog import error_models, strategies
from tests.catalog.concept import BadInput, Concept, ModeRejection, Sample, Tol, shape_pattern, traced_or_run
from tests.precision import DTYPES, EPS, LOW, TINY

nan, inf = np.nan, np.inf
EPS16 = EPS["float16"]

# --- samples: a few fixed shapes and one keyword set per entry, so that tf.function and the TF1
# graph trace once per dtype and rank and XLA (one compile per concrete shape and keyword set) reuses
# its compiles across examples, tests and edges; the values are drawn -------------------------------

SHAPES = ((1, 2, 2, 1), (2, 3, 5, 3))
"""NHWC batches of one and two images, 1 or 3 channels; an HWC image (rank 3) is an edge. Two shapes:
each new one costs a compile per dtype in XLA, and the edges reuse the first (the smallest first:
hypothesis shrinks towards it)."""
RGB_SHAPES = ((1, 2, 2, 3), (2, 3, 5, 3))
SIZES = ((2, 3), (3, 7))
"""Output sizes, up and down from the shapes' 2-5 pixels. None upsamples 4, 5 or 6 pixels to 9-12,
where XLA's bilinear resize misplaces an output centred exactly on an input pixel (TF 2.21: 4 -> 12,
5 -> 9, 5 -> 11, 6 -> 10; pinned by tests/test_image.py::
test_xla_bilinear_resize_misplaces_an_output_centred_on_an_input_pixel)."""


def images(bound=4.0, shapes=SHAPES, **kwargs):
    """NHWC batches of up to 5 x 5 pixels, 1 or 3 channels, values in [-bound, bound] (strategies.floats:
    uniform, log-uniform down to 1e-38, and 0 / +-1); ``kwargs``: keyword -> strategy of its value."""
    keys = sorted(kwargs)
    return st.tuples(st.sampled_from(shapes).flatmap(lambda s: strategies.arrays(s, bound)),
                     *(kwargs[k] for k in keys)).map(lambda t: Sample((t[0],), dict(zip(keys, t[1:]))))


def image_edges(rgb=False, **kwargs):
    """Empty batch, one pixel (an HWC image), extreme and small magnitudes, inf and NaN, for every
    image entry; the last three in the samples' (1, 2, 2, c) shape, whose compiles they share."""
    c = 3 if rgb else 1

    def image(a, b, d, e):
        return np.array([[[[a] * c, [b] * c], [[d] * c, [e] * c]]])
    return (
        Sample((np.zeros((0, 2, 2, c)),), kwargs, id="empty-batch"),
        Sample((np.array([[[0.25] * c]]),), kwargs, id="one-pixel"),
        Sample((image(1e4, -3e4, 6e4, -1e4),), kwargs, id="extreme-magnitude"),
        # below float16's smallest normal (6.1e-5): the cast to float16 flushes the last two to 0
        Sample((image(1e-3, -3e-4, 1e-7, 2e-20),), kwargs, id="small-magnitude"),
        Sample((image(inf, 1.0, nan, -inf),), kwargs, id="inf-nan"),
    )


FINITE_EDGES = ("extreme-magnitude", "small-magnitude")
"""The edges whose gradients are compared too: one shape, one compile of value-and-gradient per dtype
under XLA (the empty batch and the single pixel are checked for their values; the gradient tests draw
their own strategy)."""


def ratio_edges(**kwargs):
    """The extreme resize ratios, seeded values in [-4, 4]: the identity (3 x 5 to 3 x 5), down 8x to
    one pixel (8 x 16 to 1 x 2), and up 8x beside the identity (2 x 5 to 16 x 5, three channels).
    Under XLA each is one more shape, so one compile per dtype and entry (value and gradient together
    where the gradient is compared): three shapes, shared by the bilinear and nearest entries."""
    rng = np.random.default_rng(20)
    return (
        Sample((rng.uniform(-4, 4, (1, 3, 5, 1)),), {"size": (3, 5), **kwargs}, id="identity"),
        Sample((rng.uniform(-4, 4, (1, 8, 16, 1)),), {"size": (1, 2), **kwargs}, id="down-8x-to-one-pixel"),
        Sample((rng.uniform(-4, 4, (1, 2, 5, 3)),), {"size": (16, 5), **kwargs}, id="up-8x-beside-identity"),
    )


RATIO_EDGES = ("identity", "down-8x-to-one-pixel", "up-8x-beside-identity")

ANTIALIAS_CASES = (((1, 2, 2, 1), (1, 1)), ((2, 6, 9, 3), (4, 2)), ((2, 5, 7, 1), (2, 3)),
                   ((1, 8, 16, 1), (1, 2)), ((1, 3, 12, 3), (7, 3)))
"""(shape, size) buckets of the antialiased resize, drawn together: down 2x to one pixel, 1.5 and 4.5,
2.5 and 7 / 3, 8 and 8 (to one pixel), up 7 / 3 beside down 4. XLA cannot run it (no kernel), so these
cost traces, not compiles: one tf.function trace and one Session graph per size and dtype."""


def resized_images(cases, bound=4.0, **kwargs):
    """Samples drawn from (shape, size) buckets: values as ``images``, ``kwargs`` added to the size."""
    return st.sampled_from(cases).flatmap(lambda c: strategies.arrays(c[0], bound).map(
        lambda x: Sample((x,), {"size": c[1], **kwargs})))


# --- error models ---------------------------------------------------------------------------

def _r_in(dtype):
    """The rounding of the image to float32 on the way in, in eps32 of each value: float64 only."""
    return 0.5 if dtype == "float64" else 0.0


TINY32 = TINY["float32"]
"""float32's smallest normal: a float64 value below it is rounded into float32's subnormals or, where
the CPU flushes them (graph mode), to 0; so can any float32 intermediate. Each op on a float32 path
may lose up to this much, absolutely."""


def in_float32(dtype, err32, y, flushes=4.0):
    """An error of ``err32`` float32 eps (absolute, per element) in eps(dtype), plus ``flushes`` times
    TINY32 absolute (values or intermediates flushed below float32's normal range: the float64
    image's values, a product of small numbers), plus the final rounding of the result y to
    float16 / bfloat16 (float32 and float64 hold a float32 exactly)."""
    out = (np.asarray(err32, np.float64) + flushes * TINY32 / EPS["float32"]) * (EPS["float32"] / EPS[dtype])
    return out + (0.5 * np.abs(y) if dtype in LOW else 0.0)


def grayscale_error(dtype, image):
    """sum_k w_k x_k as a 3-term float32 dot: the weights rounded to float32 (0.5 of each term), the
    products and two additions (1.5 of sum |terms|, the K/2 bound), the image rounded in (float64)."""
    terms = np.abs(image) * np.array(list(R.GRAY_WEIGHTS.values()))
    err32 = terms.sum(axis=-1, keepdims=True) * (0.5 + 1.5 + _r_in(dtype))
    return in_float32(dtype, err32, R.rgb_to_grayscale(image))


def grayscale_vjp_error(dtype, image, dy):
    """dy * w_k as one float32 product with a float32 weight (0.5 + 0.5 of |dy w_k|); a float64 dy is
    rounded to float32 by the Cast's gradient (0.5 more)."""
    g = np.abs(dy * np.array(list(R.GRAY_WEIGHTS.values())))
    return in_float32(dtype, g * (1.0 + _r_in(dtype)), g)


def brightness_error(dtype, image, delta):
    """x + delta: delta rounded to the working dtype (0.5 |delta|), the addition (0.5 |y|); float16
    adds in float16 (adjust_brightness keeps float16 and float32), the others in float32."""
    y = image + delta
    if dtype == "float16":
        return 0.5 * abs(delta) + 0.5 * np.abs(y)
    return in_float32(dtype, 0.5 * abs(delta) + 0.5 * np.abs(y) + _r_in(dtype) * np.abs(image), y)


def brightness_vjp_error(dtype, image, dy, delta):
    """float64 only: dy is rounded to float32 on its way through the Cast to float32 (0.5 |dy|); in the
    other dtypes dy passes through the addition exactly (BRIGHTNESS_GRAD)."""
    return in_float32(dtype, _r_in(dtype) * np.abs(dy), np.zeros_like(dy))


def contrast_error(dtype, image, contrast_factor):
    """m + f (x - m) in float32 (float16 cast to float32 first): the channel mean m over n = H W
    pixels from a tree sum (0.5 eps a level, log2(n) + 1 levels) times float32(1 / n) (1 more)
    charges dm on mean |x|; x - m adds 0.5 |x - m|, the factor's rounding to float32 0.5 |f (x - m)|,
    the product 0.5 and the addition 0.5 |y|; dm reaches y through both m terms."""
    f = contrast_factor
    mean = image.mean(axis=(-3, -2), keepdims=True)
    d, y = image - mean, R.adjust_contrast(image, f)
    r = _r_in(dtype)
    n = image.shape[-3] * image.shape[-2]
    dm = np.abs(image).mean(axis=(-3, -2), keepdims=True) * (0.5 * error_models.log2_terms(n) + 1.0 + r)
    dd = r * np.abs(image) + dm + 0.5 * np.abs(d)
    err32 = dm + abs(f) * dd + np.abs(f * d) + 0.5 * np.abs(y)
    return in_float32(dtype, err32, y, flushes=4 * (1 + abs(f)))


def _standardization_parts(dtype, image):
    """(y, s, dy_abs, ds) of per_image_standardization in float32, per image: the mean (tree sum of n
    terms, divide), d = x - m, the variance mean(d^2) (square, tree sum, divide), sqrt, the floor
    1 / sqrt(n) from rsqrt (1.5 ulp), the max, and y = d / s (divide); each error absolute, eps32
    (dy_abs is y's error, not an upstream gradient)."""
    axes = (-3, -2, -1)
    n = int(np.prod(image.shape[-3:]))
    level = 0.5 * error_models.log2_terms(n) + 0.5
    a = _r_in(dtype) * np.abs(image)
    m = image.mean(axis=axes, keepdims=True)
    dm = a.mean(axis=axes, keepdims=True) + np.abs(image).mean(axis=axes, keepdims=True) * level
    d = image - m
    dd = a + dm + 0.5 * np.abs(d)
    v = (d * d).mean(axis=axes, keepdims=True)
    # the mean's error dm shifts every d alike, and sum (d_i - dm)^2 = sum d_i^2 + n dm^2 (sum d_i = 0):
    # it reaches the variance at second order only (dm^2 eps, below the rest), so here d is off by
    # its own subtraction and the input's rounding
    dv = (2 * np.abs(d) * (a + 0.5 * np.abs(d)) + 0.5 * d * d).mean(axis=axes, keepdims=True) + v * level
    std, floor = np.sqrt(v), 1 / np.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        dstd = np.where(std > 0, dv / (2 * std) + 0.5 * std, np.inf)
    s = np.maximum(std, floor)
    near = np.abs(std - floor) <= dstd
    ds = np.where(std > floor, dstd, 1.5 * floor)
    ds = np.where(near, np.maximum(ds, np.where(np.isfinite(dstd), dstd, 0.0) + 1.5 * floor), ds)
    y = d / s
    dy_abs = dd / s + np.abs(y) * ds / s + 0.5 * np.abs(y)
    return y, s, dy_abs, ds


def standardization_error(dtype, image):
    """_standardization_parts' bound on y, per element."""
    y, s, dy_abs, _ = _standardization_parts(dtype, image)
    return in_float32(dtype, dy_abs, y, flushes=4 * (1 + 1 / s))


def standardization_vjp_error(dtype, image, dy):
    """dx = (dy - mean(dy)) / s - (y - mean(y)) mean(dy y) / s (the second term only above the floor),
    as TF's graph computes it op by op in float32: each term's magnitude G, charged the roundings of
    its path (the two means' tree sums, the products, the divides: log2(n) / 2 + 4 eps) and s's
    relative error; y's forward error carried through both terms; a float64 dy rounded to float32."""
    axes = (-3, -2, -1)
    n = int(np.prod(image.shape[-3:]))
    y, s, y_err, ds = _standardization_parts(dtype, image)
    mdy, mdyy = np.abs(dy).mean(axis=axes, keepdims=True), np.abs(dy * y).mean(axis=axes, keepdims=True)
    # the second term is charged whether or not the floor holds: a bound for both branches
    g = (np.abs(dy) + mdy) / s + (np.abs(y) + np.abs(y).mean(axis=axes, keepdims=True)) * mdyy / s
    abs_y = np.abs(y) + np.abs(y).mean(axis=axes, keepdims=True)
    carried = ((y_err + y_err.mean(axis=axes, keepdims=True)) * mdyy
               + abs_y * (np.abs(dy) * y_err).mean(axis=axes, keepdims=True)) / s
    err32 = g * (0.5 * error_models.log2_terms(n) + 2.5 + ds / s + _r_in(dtype)) + carried
    return in_float32(dtype, err32, R.per_image_standardization_vjp(image, dy), flushes=8 * (1 + 1 / s) ** 2)


def _corners(n_in, n_out):
    """Per output index along one axis: the two input pixels bilinear interpolation reads and the
    position error of float32's (i + 1/2) * float32(n_in / n_out) - 1/2 (1.5 eps32 of the position)."""
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    lo = np.clip(np.floor(pos), 0, n_in - 1).astype(int)
    hi = np.clip(np.ceil(pos), 0, n_in - 1).astype(int)
    return lo, hi, 1.5 * np.abs(pos + 0.5)


def bilinear_error(dtype, image, size, method="bilinear", antialias=False):
    """ResizeBilinear's lerps in float32: top = tl + (tr - tl) xl, bottom alike, out = top + (bottom -
    top) yl; each subtraction, product and addition rounds (at most 4 ulps of the largest of the four
    pixels read, M), a position error dp (eps32, from the float32 scale and coordinates) moves a lerp
    by |right - left| dp; XLA's formulation is bounded alike. A float64 image rounds in (0.5 M)."""
    (lo_h, hi_h, dp_h), (lo_w, hi_w, dp_w) = (_corners(n, m) for n, m in zip(image.shape[-3:-1], size))
    x = image
    tl, tr = x[..., lo_h, :, :][..., lo_w, :], x[..., lo_h, :, :][..., hi_w, :]
    bl, br = x[..., hi_h, :, :][..., lo_w, :], x[..., hi_h, :, :][..., hi_w, :]
    m = np.maximum.reduce([np.abs(tl), np.abs(tr), np.abs(bl), np.abs(br)])
    ph, pw = dp_h[:, None, None], dp_w[None, :, None]
    err32 = (4 + _r_in(dtype)) * m + pw * (np.abs(tr - tl) + np.abs(br - bl)) + ph * 2 * m
    return in_float32(dtype, err32, R.resize(image, size))


def bilinear_vjp_error(dtype, image, dy, size, method="bilinear", antialias=False):
    """ResizeBilinearGrad: each output's dy times two float32 lerp weights (1 ulp), accumulated into
    its four input pixels (0.5 ulp of the running sum per addition, K_s additions at most into pixel s);
    the weights' position errors move each contribution by |dy| (dp_h + dp_w). A float64 dy is rounded
    to float32 first (0.5)."""
    wh, ww = (R.resize_weights(n, m) for n, m in zip(image.shape[-3:-1], size))
    (_, _, dp_h), (_, _, dp_w) = (_corners(n, m) for n, m in zip(image.shape[-3:-1], size))
    sh, sw = (wh > 0).astype(float), (ww > 0).astype(float)
    a = np.abs(dy)
    weighted = np.einsum("ih,...ijc,jw->...hwc", wh, a, ww)
    support = np.einsum("ih,...ijc,jw->...hwc", sh, a, sw)
    count = np.einsum("ih,jw->hw", sh, sw)[..., None]
    moved = np.einsum("ih,...ijc,jw->...hwc", sh * dp_h[:, None], a, sw) + np.einsum(
        "ih,...ijc,jw->...hwc", sh, a, sw * dp_w[:, None])
    err32 = weighted * (1.0 + _r_in(dtype)) + 0.5 * count * support + moved
    return in_float32(dtype, err32, R.resize_vjp(image, dy, size))


def nearest_vjp_error(dtype, image, dy, size, method="nearest", antialias=False):
    """ResizeNearestNeighborGrad adds each output's dy into the one input pixel it copied, in the
    image's own dtype: K_s terms into pixel s cost (K_s - 1) / 2 eps of their sum of |dy|."""
    wh, ww = (R.resize_weights(n, m, "nearest") for n, m in zip(image.shape[-3:-1], size))
    total = np.einsum("ih,...ijc,jw->...hwc", wh, np.abs(dy), ww)
    count = np.einsum("ih,jw->hw", wh, ww)[..., None]
    return 0.5 * np.maximum(count - 1, 0) * total


def _antialias_axis(n_in, n_out):
    """ScaleAndTranslate's triangle weights along one axis (scale_and_translate_op.cc, ComputeSpansCore),
    with what float32 costs them, in eps32. Output i samples at c = (i + 1/2) * inv_scale, inv_scale =
    1.0 / float32(n_out / n_in) (two roundings, then the product: 1.5 eps of c); the kernel's half-width
    is k = max(inv_scale, 1) (1 eps), used as float32(1 / k) (1.5 eps relative, 0 where k = 1); source s
    gets w = 1 - |s + 1/2 - c| / k (the position's rounding, the product, the subtraction: t + w/2 eps
    with t = |s + 1/2 - c| / k), then W = w * float32(1 / T), T the sequential float32 sum of the m
    weights (0.5 (m - 1) + 1 eps of every W alike). Returns the exact W (n_out, n_in) and the first-order
    errors: the shift of W per output from c's error and from k's (signed: a whole row moves together,
    so its effect on an output is |shift . x|), the independent roundings (absolute), the common
    relative factor per output, and the accumulation charge of each term: TF adds the span in source
    order into a float32 sum from 0, so the l-th of m terms rounds 0.5 (product) + 0.5 per addition it
    is part of (m - max(l, 2) + 1)."""
    k = max(n_in / n_out, 1.0)
    c = (np.arange(n_out) + 0.5) * n_in / n_out
    kp = (np.arange(n_in) + 0.5)[None, :] - c[:, None]
    t = np.abs(kp) / k
    w = np.maximum(0.0, 1 - t)
    total = w.sum(axis=1, keepdims=True)
    weights = w / total
    inside = t < 1

    def shift(dw):
        return (dw - weights * dw.sum(axis=1, keepdims=True)) / total
    dk = 1.5 if k > 1 else 0.0
    by_c = shift(np.where(inside, np.sign(kp) / k, 0.0)) * 1.5 * c[:, None]
    by_k = shift(np.where(inside, t, 0.0)) * dk
    # a source exactly on the kernel's edge (t = 1, the kink) may come in with weight of the size of its
    # position's error: charged absolutely
    on_edge = np.where(t == 1, 1.5 * c[:, None] / k + dk, 0.0)
    own = np.where(inside, t + 0.5 * w, 0.0) + on_edge
    independent = (own + weights * own.sum(axis=1, keepdims=True)) / total
    start = np.clip(np.ceil(c - k - 0.5), 0, n_in - 1)
    end = np.clip(np.floor(c + k - 0.5), 0, n_in - 1) + 1
    m = (end - start)[:, None]
    pos = np.arange(n_in)[None, :] - start[:, None] + 1  # l, 1-based, in the span
    in_span = (pos >= 1) & (pos <= m)
    accumulate = np.where(in_span, 0.5 + 0.5 * (m - np.maximum(pos, 2) + 1), 0.0)
    common = 0.5 * (m[:, 0] - 1) + 1.0
    return weights, by_c, by_k, independent, common, accumulate


def _along_axis(x, err, parts, axis):
    """y = W x along ``axis`` of x (float64) as ScaleAndTranslate's GatherRows / GatherColumns compute it
    in float32, and its error bound (eps32, absolute) given x's own error ``err``."""
    weights, by_c, by_k, independent, common, accumulate = parts
    xm, em = np.moveaxis(x, axis, -1)[..., None, :], np.moveaxis(err, axis, -1)[..., None, :]
    a = np.abs(xm)
    with np.errstate(invalid="ignore"):
        y = np.where(weights > 0, weights * xm, 0.0).sum(-1)
        out = (np.where(weights > 0, weights * em, 0.0).sum(-1) + np.abs((by_c * xm).sum(-1))
               + np.abs((by_k * xm).sum(-1)) + (independent * a).sum(-1) + common * np.abs(y)
               + (accumulate * weights * a).sum(-1))
    return np.moveaxis(y, -1, axis), np.moveaxis(out, -1, axis)


def antialias_error(dtype, image, size, method="bilinear", antialias=True):
    """ScaleAndTranslate (triangle kernel, antialias) in float32: the rows (height) resized first into
    a float32 intermediate, then the columns, each a sequential float32 sum of the weighted pixels of
    its span (at most 2 ceil(k) + 1 of them, k = in / out), with the weights' own float32 errors
    (_antialias_axis). A float64 image rounds to float32 on the way in (0.5 |x|); float16 and bfloat16
    results round once more (in_float32)."""
    (hi, wi), (ho, wo) = image.shape[-3:-1], size
    x = image.astype(np.float64)
    with np.errstate(invalid="ignore"):
        inter, err = _along_axis(x, _r_in(dtype) * np.abs(x), _antialias_axis(hi, ho), -3)
        y, err = _along_axis(inter, err, _antialias_axis(wi, wo), -2)
    spans = (2 * np.ceil(max(hi / ho, 1)) + 2) * (2 * np.ceil(max(wi / wo, 1)) + 2)
    return in_float32(dtype, err, y, flushes=spans)


def _antialias_grad_axis(n_in, n_out):
    """The transposed weights ScaleAndTranslateGrad gathers with along one axis: input pixel h collects
    W[i, h] dy_i over the outputs i that read it, in output order; each W[i, h] with its forward error
    taken absolutely (the outputs' positions round independently), the sum's accumulation charge."""
    weights, by_c, by_k, independent, common, _ = _antialias_axis(n_in, n_out)
    wt = weights.T
    err = (np.abs(by_c) + np.abs(by_k) + independent + common[:, None] * weights).T
    nonzero = wt > 0
    first = np.where(nonzero.any(1), nonzero.argmax(1), 0)[:, None]
    last = np.where(nonzero.any(1), n_out - 1 - nonzero[:, ::-1].argmax(1), -1)[:, None]
    m = last - first + 1
    pos = np.arange(n_out)[None, :] - first + 1
    accumulate = np.where((pos >= 1) & (pos <= m), 0.5 + 0.5 * (m - np.maximum(pos, 2) + 1), 0.0)
    return wt, err, accumulate


def antialias_vjp_error(dtype, image, dy, size, method="bilinear", antialias=True):
    """ScaleAndTranslateGrad in float32: dx = Wh.T dy Ww, rows then columns as in the forward pass,
    each weight carrying its forward error (absolutely: the transposed sum mixes outputs whose errors
    are independent) and each sequential sum its accumulation charge; a float64 dy rounds to float32
    first (0.5 |dy|), a float16 / bfloat16 dx rounds once at the end (in_float32)."""
    (hi, wi), (ho, wo) = image.shape[-3:-1], size
    a = np.abs(np.asarray(dy, np.float64))
    (wh, eh, ah), (ww, ew, aw) = _antialias_grad_axis(hi, ho), _antialias_grad_axis(wi, wo)
    inter = np.einsum("hi,...ijc->...hjc", wh, a)
    d_inter = np.einsum("hi,...ijc->...hjc", eh + ah * wh, a) + _r_in(dtype) * inter
    err = np.einsum("wj,...hjc->...hwc", ww, d_inter) + np.einsum("wj,...hjc->...hwc", ew + aw * ww, inter)
    spans = (2 * np.ceil(max(hi / ho, 1)) + 2) * (2 * np.ceil(max(wi / wo, 1)) + 2)
    return in_float32(dtype, err, R.resize_vjp(image, dy, size, method, antialias), flushes=spans)


def through_float16(image):
    """A float image rounded to float16 and back: convert_image_dtype float -> float, twice."""
    return T.convert_image_dtype(T.convert_image_dtype(image, "float16"), image.dtype)


def through_float16_ref(image):
    return R.convert_image_dtype(R.convert_image_dtype(image, "float16"), image.dtype)


def roundtrip_error(dtype, image):
    """float64 only: TF casts float64 to float16 through float32 (Eigen), rounding twice, which can
    land one float16 ulp (eps16 |y|, or 2^-24 among the subnormals) from NumPy's single rounding;
    float16, bfloat16 (8 bits fit in float16's 11, and a float16 subnormal in bfloat16's 8) and
    float32 convert exactly as NumPy does (ROUNDTRIP)."""
    y = R.convert_image_dtype(image, "float16").astype(np.float64)
    return (EPS16 * np.abs(y) + 2.0 ** -24) / EPS[dtype]


ROUNDTRIP = {**{d: Tol(0, "rounded to float16 exactly as NumPy rounds, and back exactly") for d in DTYPES},
             "float64": Tol(1, "float64 -> float32 -> float16: two roundings, at most one float16 ulp off",
                            model=roundtrip_error)}
BRIGHTNESS_GRAD = {**{d: Tol(0, "dy passes through the addition and the exact casts unchanged") for d in DTYPES},
                   "float64": Tol(1, "dy rounded to float32 by the Cast's gradient", model=brightness_vjp_error)}


FD32 = EPS["float32"]
"""fd_eps of the entries TF computes in float32 even for a float64 image."""


def modelled(model, why):
    return {d: Tol(1, why, model=model) for d in DTYPES}


EXACT = {d: Tol(0, "values are moved, not computed: exact in every dtype") for d in DTYPES}
EXACT_GRAD = {d: Tol(0, "dy is moved back to where its value came from (zeros elsewhere): exact") for d in DTYPES}


# --- bad input ------------------------------------------------------------------------------

def wrong_rank(kwargs=None):
    x = np.zeros((4, 4))
    return BadInput("rank-2", (x,), dict(kwargs or {}), ValueError,
                     r"image must have rank 3 \(HWC\) or 4 \(NHWC\), got rank 2 \(shape \(4, 4\)\)", (ValueError,),
                     tf_match=r"image must have rank 3 \(HWC\) or 4 \(NHWC\), got rank 2 \(shape "
                              + shape_pattern((4, 4)) + r"\)")


def bool_image(kwargs=None):
    return BadInput("bool-image", (np.zeros((2, 2, 1), bool),), dict(kwargs or {}), TypeError,
                     r"image must be a real number array \(float or integer\), got dtype bool", (TypeError,))


def image_bad_inputs(kwargs=None):
    return (wrong_rank(kwargs), bool_image(kwargs))


def resize_bad_inputs(method, **extra):
    x = np.zeros((2, 3, 1))
    return image_bad_inputs({"size": (2, 2), "method": method, **extra}) + (
        BadInput("bad-method", (x,), {"size": (2, 2), "method": "bicubic", **extra}, ValueError,
                  r"method must be one of \['bilinear', 'nearest'\], got 'bicubic'", (ValueError,)),
        BadInput("negative-size", (x,), {"size": (-1, 3), "method": method, **extra}, ValueError,
                  r"size must be a pair of positive integers \(height, width\), got \(-1, 3\)", (ValueError,)),
        BadInput("zero-size", (x,), {"size": (0, 3), "method": method, **extra}, ValueError,
                  r"size must be a pair of positive integers \(height, width\), got \(0, 3\)", (ValueError,)),
        BadInput("one-number-size", (x,), {"size": (3,), "method": method, **extra}, ValueError,
                  r"size must be a pair of positive integers \(height, width\), got \(3,\)", (ValueError,)),
    )


FOUR_CHANNELS = BadInput(
    "four-channels", (np.zeros((2, 2, 4)),), {}, ValueError,
    r"image must have 3 channels \(its last dimension\), got shape \(2, 2, 4\)",
    traced_or_run(ValueError),
    tf_match=r"image must have 3 channels \(its last dimension\), got shape " + shape_pattern((2, 2, 4)),
    xla_match=r"(?i)(size-incompatible|incompatible|dimension)",
    xla_why="the channel check is a runtime assert where the shape-generic trace leaves the last "
            "dimension unknown; XLA compiles asserts away and rejects the (4,) x (3,) tensordot itself")


# --- the entries ------------------------------------------------------------------------------

def image_bench_sample(**kwargs):
    """bench/: a batch of RGB images with about n values in [0, 1): square, at most 224 x 224."""
    def make(n, rng):
        side = min(224, max(2, int((n // 3) ** 0.5)))
        images = rng.uniform(0, 1, (max(1, n // (3 * side * side)), side, side, 3))
        resized = {k: (max(1, side // 2), max(1, 2 * side // 3)) if v == "half" else v for k, v in kwargs.items()}
        return Sample((images,), resized)
    return make


CATALOG = [
    Concept(
        name="flip_left_right", ref=R.flip_left_right, tf=T.flip_left_right,
        ref_vjp=R.flip_left_right_vjp, tf_vjp=T.flip_left_right_vjp,
        strategy=lambda: images(), edges=image_edges(), tol=EXACT, grad_tol=EXACT_GRAD,
        grad_edge_ids=FINITE_EDGES, bad_inputs=image_bad_inputs(),
        bench_sample=image_bench_sample(),
    ),
    Concept(
        name="rgb_to_grayscale", ref=R.rgb_to_grayscale, tf=T.rgb_to_grayscale,
        ref_vjp=R.rgb_to_grayscale_vjp, tf_vjp=T.rgb_to_grayscale_vjp,
        strategy=lambda: images(shapes=RGB_SHAPES), edges=image_edges(rgb=True),
        tol=modelled(grayscale_error, "a 3-term float32 dot with float32-rounded weights, per pixel"),
        grad_tol=modelled(grayscale_vjp_error, "dy times a float32 weight: one product"),
        grad_edge_ids=FINITE_EDGES, fd_eps=FD32, bad_inputs=image_bad_inputs() + (FOUR_CHANNELS,),
        bench_sample=image_bench_sample(),
    ),
    Concept(
        name="adjust_brightness", ref=R.adjust_brightness, tf=T.adjust_brightness,
        ref_vjp=R.adjust_brightness_vjp, tf_vjp=T.adjust_brightness_vjp,
        strategy=lambda: images(delta=st.just(-0.35)),
        edges=image_edges(delta=-0.35),
        tol=modelled(brightness_error, "delta rounded to the working dtype, one addition"),
        grad_tol=BRIGHTNESS_GRAD,
        grad_edge_ids=FINITE_EDGES, fd_eps=FD32, bad_inputs=image_bad_inputs({"delta": 0.1}),
        bench_sample=image_bench_sample(delta=0.1),
    ),
    Concept(
        name="adjust_contrast", ref=R.adjust_contrast, tf=T.adjust_contrast,
        strategy=lambda: images(contrast_factor=st.just(1.7)),
        edges=image_edges(contrast_factor=1.7),
        tol=modelled(contrast_error, "the channel mean's tree sum, x - m, the factor, m + f (x - m), in float32"),
        bad_inputs=image_bad_inputs({"contrast_factor": 1.5}),
        bench_sample=image_bench_sample(contrast_factor=1.7),
        bench_tol=Tol(16, "XLA's CPU reductions are not the tree sums the model charges: the channel mean "
                      "was measured 1.1x the model at 1e7 values (66 images of 224 x 224 x 3) (bench/)",
                      model=contrast_error),
    ),
    Concept(
        name="central_crop", ref=R.central_crop, tf=T.central_crop,
        ref_vjp=R.central_crop_vjp, tf_vjp=T.central_crop_vjp,
        strategy=lambda: images(central_fraction=st.just(0.5)),
        edges=image_edges(central_fraction=0.5), tol=EXACT, grad_tol=EXACT_GRAD, grad_edge_ids=FINITE_EDGES,
        bad_inputs=image_bad_inputs({"central_fraction": 0.5}) + (
            BadInput("zero-fraction", (np.zeros((2, 2, 1)),), {"central_fraction": 0.0}, ValueError,
                      r"central_fraction must be > 0, got 0.0", (ValueError,)),
            BadInput("fraction-above-1", (np.zeros((2, 2, 1)),), {"central_fraction": 1.5}, ValueError,
                      r"central_fraction must be in \[0, 1\], got 1.5", (ValueError,)),
        ),
        bench_sample=image_bench_sample(central_fraction=0.5),
    ),
    Concept(
        name="per_image_standardization", ref=R.per_image_standardization, tf=T.per_image_standardization,
        ref_vjp=R.per_image_standardization_vjp, tf_vjp=T.per_image_standardization_vjp,
        strategy=lambda: images().map(lambda s: off_floor(s, 1e-3)), edges=image_edges(),
        tol=modelled(standardization_error, "mean, variance (tree sums), sqrt or the 1 / sqrt(N) floor, "
                                            "x - m and the divide, in float32"),
        grad_tol=modelled(standardization_vjp_error, "the two mean-subtracted terms of dx op by op in float32, "
                                                     "with y's and s's forward errors"),
        off_kink=lambda s, margin: off_floor(s, max(margin, 1e-3)),
        grad_edge_ids=FINITE_EDGES, fd_eps=FD32, bad_inputs=image_bad_inputs(),
        bench_sample=image_bench_sample(),
        bench_tol=Tol(16, "XLA's CPU reductions are not the tree sums the model charges: measured "
                      "up to 3.8x the model at 1e7 values (66 images of 224 x 224 x 3), 0.13x "
                      "eagerly (bench/)", model=standardization_error),
    ),
    Concept(
        name="resize", ref=R.resize, tf=T.resize, ref_vjp=R.resize_vjp, tf_vjp=T.resize_vjp,
        strategy=lambda: images(size=st.sampled_from(SIZES), method=st.just("bilinear")),
        edges=image_edges(size=(3, 7), method="bilinear")[:-1] + (
            Sample((np.stack([np.full((2, 2, 1), nan), np.linspace(0, 1, 4).reshape(2, 2, 1)]),),
                   {"size": (3, 7), "method": "bilinear"}, id="a-nan-image-beside-a-finite-one"),
        ) + ratio_edges(method="bilinear"),
        tol=modelled(bilinear_error, "float32 lerps: 4 ulps of the pixels read, plus the float32 "
                                     "positions' error times the differences they weigh"),
        grad_tol=modelled(bilinear_vjp_error, "ResizeBilinearGrad: two float32 weights per dy, "
                                              "accumulated into each input pixel"),
        grad_edge_ids=FINITE_EDGES + RATIO_EDGES, fd_eps=FD32, bad_inputs=resize_bad_inputs("bilinear"),
        bench_sample=image_bench_sample(size="half", method="bilinear"),
    ),
    # antialias=True: tf.image.resize runs ScaleAndTranslate (triangle kernel stretched to in / out when
    # downsampling) instead of ResizeBilinear; XLA has no kernel for it (bench/ times the other modes).
    Concept(
        name="resize_antialias", ref=R.resize, tf=T.resize, ref_vjp=R.resize_vjp, tf_vjp=T.resize_vjp,
        strategy=lambda: resized_images(ANTIALIAS_CASES, method="bilinear", antialias=True),
        edges=image_edges(size=(1, 1), method="bilinear", antialias=True)[:-1] + (
            Sample((np.stack([np.full((2, 2, 1), nan), np.linspace(0, 1, 4).reshape(2, 2, 1)]),),
                   {"size": (1, 1), "method": "bilinear", "antialias": True}, id="a-nan-image-beside-a-finite-one"),
        ) + ratio_edges(method="bilinear", antialias=True),
        tol=modelled(antialias_error, "ScaleAndTranslate: float32 triangle weights (positions, kernel "
                                      "width, normalisation) and two sequential float32 span sums"),
        grad_tol=modelled(antialias_vjp_error, "ScaleAndTranslateGrad: the transposed float32 weights, "
                                               "two sequential float32 span sums"),
        grad_edge_ids=FINITE_EDGES + RATIO_EDGES, fd_eps=FD32,
        bad_inputs=resize_bad_inputs("bilinear", antialias=True),
        rejected_in=(ModeRejection(
            "xla", tf.errors.InvalidArgumentError, r"ScaleAndTranslate",
            "XLA has no ScaleAndTranslate kernel (XLA_CPU_JIT: 'No registered ScaleAndTranslate OpKernel'), "
            "so tf.image.resize(antialias=True) cannot be jit-compiled, value or gradient"),),
        bench_sample=image_bench_sample(size="half", method="bilinear", antialias=True),
    ),
    # values only: ResizeNearestNeighborGrad has no XLA kernel, so the gradient has a named test
    # (tests/test_image.py) that runs it in the other three modes against nearest_vjp_error
    Concept(
        name="resize_nearest", ref=R.resize, tf=T.resize,
        strategy=lambda: images(size=st.sampled_from(SIZES), method=st.just("nearest")),
        edges=image_edges(size=(3, 7), method="nearest") + ratio_edges(method="nearest"), tol=EXACT,
        bad_inputs=resize_bad_inputs("nearest"),
        bench_sample=image_bench_sample(size="half", method="nearest"),
    ),
    Concept(
        name="convert_image_dtype", ref=through_float16_ref, tf=through_float16,
        strategy=lambda: images(bound=1e5), edges=image_edges() + (
            # 1 + 2^-11 + 2^-40 is just above a float16 tie: NumPy rounds it up; float32 drops the 2^-40 and
            # the tie then goes to even, down (float64 only: the cast to the dtype under test drops it first)
            Sample((np.full((1, 2, 2, 1), 1 + 2.0 ** -11 + 2.0 ** -40),), {}, id="double-rounding"),),
        tol=ROUNDTRIP,
        bad_inputs=(BadInput("bool-image", (np.zeros((2, 2, 1), bool),), {}, TypeError,
                          r"image must be a real number array \(float or integer\), got dtype bool", (TypeError,)),),
        bench_sample=image_bench_sample(),
    ),
]


def off_floor(sample, margin):
    """Scale each image of the sample so its standard deviation is at least ``margin`` (relative)
    away from per_image_standardization's floor 1 / sqrt(N), where the derivative jumps, and
    give a uniform image a small ramp."""
    (x,) = sample.args
    if x.size == 0:
        return sample
    axes = (-3, -2, -1)
    std = x.std(axis=axes, keepdims=True)
    floor = 1 / np.sqrt(np.prod(x.shape[-3:]))
    close = np.abs(std - floor) < margin * floor
    x = np.where(close, x * 2.0, x)
    # a uniform image (std 0) gets a ramp of 1e-3: XLA's gradient there is NaN, pinned by a named test
    ramp = 1e-3 * np.arange(np.prod(x.shape[-3:])).reshape(x.shape[-3:])
    return Sample((np.where(x.std(axis=axes, keepdims=True) == 0, x + ramp, x),), sample.kwargs, sample.id)
