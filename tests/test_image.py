"""Image preprocessing (the book's 7.2), stated as facts: TensorFlow's conventions pinned one by one
(the grayscale weights, half-pixel centres and antialiasing in resize, the contrast mean per channel,
the floor on the standard deviation, the conversion to uint8), what uint8 and float64 images get, and
the book's training chain, seeded, beside its NumPy twin."""
import functools
import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import reference.image as R
import tfimpl.image as T
from tests import harness
from tests.catalog import BY_NAME
from tests.catalog import image as CI
from tests.catalog.concept import Sample
from tests.harness import assert_within
from tests.isolated import probe
from tests.precision import DTYPES, eps
from tfimpl._autodiff import vjp

EPS32 = eps("float32")


def smooth_image(h, w, seed=0):
    """A float image in [0, 1] with structure at every scale: gradients plus seeded noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    base = np.stack([yy, xx, 0.5 + 0.5 * np.sin(6 * yy + 4 * xx)], axis=-1)
    return np.clip(0.8 * base + 0.2 * rng.uniform(0, 1, (h, w, 3)), 0, 1)


def uint8_image(h, w, seed=0):
    return np.round(smooth_image(h, w, seed) * 255).astype(np.uint8)


# --- the grayscale weights ------------------------------------------------------------------

def test_grayscale_weights_are_0_2989_0_5870_0_1140_so_white_becomes_0_9999():
    """Pure red, green and blue pixels come out as the float32 weights themselves, and white as their
    sum 0.9999 (Rec. 601's 0.299, 0.587, 0.114 rounded to 4 digits), not 1; a uint8 white stays
    255 because the conversion back truncates 0.9999 * 255.5 = 255.47."""
    pixels = np.array([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0]]], np.float32)
    gray = T.rgb_to_grayscale(pixels).numpy()[0, :, 0]
    weights = np.float32([0.2989, 0.5870, 0.1140])
    np.testing.assert_array_equal(gray[:3], weights, err_msg="unit R, G, B pixels should give the weights exactly")
    # white: w_r + w_g + w_b in float32, two additions: within 1 ulp of 0.9999
    # white: three float32-rounded weights (0.5 ulp each) and two additions (0.5 ulp of ~1 each)
    assert_within(gray[3], 0.9999, 2 * EPS32, "white's gray value")
    assert abs(gray[3] - 1.0) > 5e-5, f"white came out {gray[3]!r}: the weights should sum to 0.9999, not 1"
    np.testing.assert_allclose(R.rgb_to_grayscale(pixels.astype(np.float64))[0, :, 0], [0.2989, 0.5870, 0.1140, 0.9999],
                               rtol=4 * eps("float64"))
    white = np.full((1, 1, 3), 255, np.uint8)
    assert T.rgb_to_grayscale(white).numpy().item() == R.rgb_to_grayscale(white).item() == 255


# --- resize: half-pixel centres, the legacy grid, antialias, nearest's ties ------------------

@pytest.mark.claim("ch7.2", "tf.image.resize_images(image, [h, w], method=0) resizes by bilinear interpolation",
                   source="book", code="1.4.0/Chapter07/2.1. TensorFlow图像处理函数.ipynb, cell 6", verdict="changed",
                   since="TF 2.0",
                   correction="TF2's tf.image.resize samples output pixel i at its centre (i + 1/2) * in / out - 1/2; "
                              "TF1's resize_images at i * in / out: the same call ported moves the picture by half "
                              "an input pixel ([0, 1] to 4 pixels: [0, .25, .75, 1] against [0, .5, 1, 1])")
def test_bilinear_resize_samples_at_half_pixel_centres_and_tf1_resize_images_on_the_legacy_grid():
    x = np.array([[[0.0], [1.0]]], np.float32).transpose(1, 0, 2)  # height 2, width 1
    tf2, tf1 = T.resize(x, (4, 1)).numpy().ravel(), T.resize_v1(x, (4, 1)).ravel()
    np.testing.assert_array_equal(tf2, [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_array_equal(tf1, [0.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(R.resize(x, (4, 1)).ravel(), tf2)
    np.testing.assert_array_equal(R.resize_v1(x, (4, 1)).ravel(), tf1)
    # every pair of sizes up to 6: TF's weights, read back from unit impulses, are the formula's; the
    # float32 positions (i + 1/2) * float32(in / out) - 1/2 cost 1.5 eps32 of the position, at most 9
    for n_in in range(1, 7):
        for n_out in range(1, 7):
            for half in (True, False):
                assert_within(T.resize_weights(n_in, n_out, half_pixel_centers=half).numpy(),
                              R.resize_weights(n_in, n_out, half_pixel_centers=half), 12 * EPS32,
                              f"bilinear weights {n_in} -> {n_out}, half_pixel_centers={half}")
    image = smooth_image(5, 7)
    assert_within(T.resize_v1(image, (3, 9)), R.resize_v1(image, (3, 9)), 24 * EPS32,
                  "the book's TF1 resize_images, in a Session, against the legacy-grid reference")


def test_antialias_stretches_the_triangle_by_in_over_out_when_downsampling_and_only_then():
    """Downsampling 8 -> 3 with antialias weighs every input pixel under the output pixel's
    triangle of half-width 8 / 3, normalised: each output reads 4 to 6 pixels, where plain bilinear
    reads 2. Upsampling it changes nothing but rounding (ScaleAndTranslate against ResizeBilinear)."""
    for n_in, n_out in ((8, 3), (6, 4), (5, 2), (7, 7), (3, 8)):
        tf_w = T.resize_weights(n_in, n_out, antialias=True).numpy()
        # the kernel's float32 positions, triangle values and normalisation: a few eps32 per weight
        assert_within(tf_w, R.resize_weights(n_in, n_out, antialias=True), 8 * EPS32,
                      f"antialias weights {n_in} -> {n_out}")
    assert ((R.resize_weights(8, 3, antialias=True) > 0).sum(axis=1) >= 4).all()
    assert ((R.resize_weights(8, 3) > 0).sum(axis=1) <= 2).all()
    np.testing.assert_array_equal(R.resize_weights(3, 8, antialias=True), R.resize_weights(3, 8))
    x = smooth_image(3, 4)
    assert_within(T.resize(x, (7, 9), antialias=True), T.resize(x, (7, 9)), 4 * EPS32,
                  "upsampling with and without antialias")


# XLA has no ScaleAndTranslate kernel: the catalog's resize_antialias entry states it (ModeRejection) and
# tests/test_catalog.py::test_rejected_modes_raise_what_the_catalog_states holds every dtype to it.

def antialias_samples():
    """The catalog's antialias buckets with seeded values (as drawn: [-4, 4]), and its ratio edges."""
    rng = np.random.default_rng(7)
    drawn = [Sample((rng.uniform(-4, 4, shape),), {"size": size, "method": "bilinear", "antialias": True},
                    f"{shape[1]}x{shape[2]}-to-{size[0]}x{size[1]}") for shape, size in CI.ANTIALIAS_CASES]
    return drawn + [e for e in BY_NAME["resize_antialias"].edges if e.id in CI.RATIO_EDGES]


def changes_with_antialias(sample):
    """Whether antialias changes the weights of this sample's resize (it does only when downsampling
    by more than 2: at 2 -> 1 the stretched triangle and the plain one give the same two halves)."""
    (x,), size = sample.args, sample.kwargs["size"]
    return any(not np.allclose(R.resize_weights(n, m, antialias=True), R.resize_weights(n, m))
               for n, m in zip(x.shape[-3:-1], size))


def fails(check, *args):
    """Whether the harness check raises its AssertionError (a disagreement) on these arguments."""
    try:
        check(*args)
    except AssertionError:
        return True
    return False


@pytest.mark.planted
def test_a_resize_that_drops_antialias_below_or_above_float32_fails_the_catalog():
    """Planted (issue 20): tfimpl.resize's float16 / bfloat16 / float64 branch casts to float32 and
    calls tf.image.resize without passing antialias on. The catalog's resize_antialias entry catches it
    in those three dtypes, values and gradients, in every mode TF runs it in, on every sample whose
    weights antialias changes (all but 2 -> 1, the identity and upsampling), and passes float32 (the branch
    it leaves alone)."""
    def dropping(image, size, method="bilinear", antialias=False):
        image = tf.convert_to_tensor(image)
        if method == "bilinear" and image.dtype.is_floating and image.dtype != tf.float32:
            return tf.cast(tf.image.resize(tf.cast(image, tf.float32), size), image.dtype)
        return tf.image.resize(image, size, method=method, antialias=antialias)
    planted = BY_NAME["resize_antialias"].replace(tf=dropping, tf_vjp=vjp(dropping))
    samples = antialias_samples()
    changing = [s for s in samples if changes_with_antialias(s)]
    unchanged = sorted(s.id for s in samples if not changes_with_antialias(s))
    assert unchanged == ["2x2-to-1x1", "identity", "up-8x-beside-identity"], unchanged
    rng = np.random.default_rng(8)
    for sample in changing:
        dy = rng.uniform(-1, 1, R.resize(*sample.args, **sample.kwargs).shape)
        for dtype in ("float16", "bfloat16", "float64"):
            for mode in ("eager", "function", "graph"):
                assert fails(harness.check_values, planted, sample, dtype, mode), (sample.id, dtype, mode)
            assert fails(harness.check_gradient, planted, sample, dy, dtype, "eager"), (sample.id, dtype)
        harness.check_values_and_gradient(planted, sample, dy, "float32", "function")


@pytest.mark.planted
def test_a_reference_antialias_triangle_capped_at_two_pixels_fails_only_beyond_2x():
    """Planted in the reference: the antialias triangle's half-width capped at 2 input pixels
    (min(in / out, 2)). TF is right, and the catalog's samples judge the planted reference wrong
    wherever a ratio exceeds 2 (4.5x, 8x, the down-8x edge), but not at ratios up to 2, the only ones
    the resize samples drew before issue 20: those could not tell."""
    def capped_weights(n_in, n_out):
        centre, pixel = (np.arange(n_out) + 0.5) * n_in / n_out, np.arange(n_in) + 0.5
        w = np.maximum(0.0, 1 - np.abs(pixel - centre[:, None]) / min(max(n_in / n_out, 1.0), 2.0))
        return w / w.sum(axis=1, keepdims=True)

    def capped(image, size, method="bilinear", antialias=False):
        wh, ww = (capped_weights(n, m) for n, m in zip(image.shape[-3:-1], size))
        return np.einsum("ih,...hwc,jw->...ijc", wh, np.asarray(image, np.float64), ww)
    planted = BY_NAME["resize_antialias"].replace(ref=capped)
    for sample in antialias_samples():
        beyond = any(n > 2 * m for n, m in zip(sample.args[0].shape[-3:-1], sample.kwargs["size"]))
        assert fails(harness.check_values, planted, sample, "float32", "eager") == beyond, sample.id


RESIZE_PARAMETERS = {
    # (size, method): None where both sides resize, else the start of the message both raise
    "tuple": ((3, 5), "bilinear", None),
    "list": ([3, 5], "nearest", None),
    "numpy-ints": ((np.int64(3), np.uint8(5)), "bilinear", None),
    "int-array": (np.array([3, 5]), "bilinear", None),
    "a-float-side": ((3.0, 5), "bilinear", "size must be a pair of positive integers (height, width), got (3.0, 5)"),
    "a-bool-side": ((True, 5), "bilinear", "size must be a pair of positive integers (height, width), got (True, 5)"),
    "a-zero-side": ((0, 5), "bilinear", "size must be a pair of positive integers (height, width), got (0, 5)"),
    "a-number": (3, "bilinear", "size must be a pair of positive integers (height, width), got 3"),
    "three-sides": ((3, 5, 1), "bilinear", "size must be a pair of positive integers (height, width), got (3, 5, 1)"),
    "nested": ([[3, 5]], "bilinear", "size must be a pair of positive integers (height, width), got [[3, 5]]"),
    "a-str-side": (("3", 5), "bilinear", "size must be a pair of positive integers (height, width), got ('3', 5)"),
    "none": (None, "bilinear", "size must be a pair of positive integers (height, width), got None"),
    "tf-method-the-book-lacks": ((3, 5), "bicubic", "method must be one of ['bilinear', 'nearest'], got 'bicubic'"),
    "tf1-method-number": ((3, 5), 0, "method must be one of ['bilinear', 'nearest'], got 0"),
}


@pytest.mark.parametrize("case", list(RESIZE_PARAMETERS))
def test_both_sides_check_the_resize_parameters_alike(case):
    """Each side checks size and method with its own code (reference/_checks.py size_pair by Python
    types; tfimpl/_checks.py size_pair as tf.image.resize reads size, through tf.convert_to_tensor):
    both resize, or both raise ValueError with the same message, in resize and in the TF1 form."""
    size, method, message = RESIZE_PARAMETERS[case]
    image = smooth_image(4, 6)
    for resize in (R.resize, T.resize, R.resize_v1, T.resize_v1):
        if message is None:
            assert np.shape(resize(image, size, method)) == (3, 5, 3), resize.__module__
        else:
            with pytest.raises(ValueError) as raised:
                resize(image, size, method)
            assert str(raised.value) == message, f"{resize.__module__}.{resize.__name__}"


def nearest_indices_float32(n_in, n_out):
    """ResizeNearestNeighbor's source index as its kernel computes it, in float32:
    min(floor((i + 0.5f) * float32(n_in / n_out)), n_in - 1)."""
    scale = np.float32(n_in) / np.float32(n_out)
    return np.minimum(np.floor((np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale), n_in - 1).astype(int)


def test_nearest_takes_the_pixel_under_the_half_pixel_centre_with_float32_deciding_exact_ties():
    """Output pixel i copies input floor((i + 1/2) * in / out): the pixel whose cell holds its centre,
    an exact tie going right. TF computes the product in float32, and where float32(in / out) rounds
    down an exact tie goes left: 2 -> 41 pixels, output 20 sits exactly between inputs 0 and 1
    (20.5 * 2 / 41 = 1) and TF copies input 0. Up to 8 inputs and 64 outputs, 13 of 512 size pairs
    differ from the exact rule, each at such a tie; none of the catalog's sizes does."""
    differ = []
    for n_in in range(1, 9):
        impulses = tf.eye(n_in)[:, None, :]
        for n_out in range(1, 65):
            tf_idx = tf.image.resize(impulses, [n_out, 1], method="nearest").numpy()[:, 0, :].argmax(axis=1)
            np.testing.assert_array_equal(tf_idx, nearest_indices_float32(n_in, n_out), err_msg=f"{n_in} -> {n_out}")
            exact = R.resize_weights(n_in, n_out, "nearest").argmax(axis=1)
            if not np.array_equal(tf_idx, exact):
                i = np.flatnonzero(tf_idx != exact)
                assert np.all(((2 * i + 1) * n_in) % (2 * n_out) == 0), f"{n_in} -> {n_out}: differs off a tie at {i}"
                differ.append((n_in, n_out))
    assert (2, 41) in differ and len(differ) == 13, differ
    assert T.resize_weights(2, 41, "nearest").numpy().argmax(axis=1)[20] == 0
    assert R.resize_weights(2, 41, "nearest").argmax(axis=1)[20] == 1


def test_an_inf_pixel_turns_every_bilinear_output_that_reads_it_into_nan():
    """ResizeBilinear interpolates as top = tl + (tr - tl) x_lerp, bottom alike, out = top + (bottom -
    top) y_lerp: an inf that reaches top and bottom makes bottom - top = inf - inf = NaN, so every
    output reading the inf pixel is NaN, where the weighted sum the reference writes gives inf (and
    the outputs that do not read it stay finite on both sides). XLA answers otherwise again; the
    catalog's non-finite edge for resize is a whole NaN image, where all agree."""
    x = np.array([[[1.0], [np.inf], [2.0], [3.0]]], np.float32)  # height 1, width 4
    out = T.resize(x, (1, 8)).numpy().ravel()
    pos = (np.arange(8) + 0.5) * 4 / 8 - 0.5  # -0.25, 0.25, 0.75, ...
    lo, hi = np.clip(np.floor(pos), 0, 3).astype(int), np.clip(np.ceil(pos), 0, 3).astype(int)
    lerp = (pos - np.floor(pos)).astype(np.float32)
    row = x.ravel()
    with np.errstate(invalid="ignore"):
        top = row[lo] + (row[hi] - row[lo]) * lerp
        expected = top + (top - top) * np.float32(0.0)  # height 1: bottom is top, y_lerp 0
    np.testing.assert_array_equal(out, expected)
    reads_inf = (lo == 1) | (hi == 1)
    assert np.isnan(out[reads_inf]).all() and np.isfinite(out[~reads_inf]).all()
    ref = R.resize(x, (1, 8)).ravel()
    assert np.isposinf(ref[reads_inf]).all() and np.array_equal(ref[~reads_inf], out[~reads_inf])


def test_xla_bilinear_resize_misplaces_an_output_centred_on_an_input_pixel():
    """Upsampling 5 -> 9 pixels, output 4 is centred exactly on input 2 ((4 + 1/2) * 5 / 9 - 1/2 = 2):
    eager, tf.function and a Session copy input 2, XLA (TF 2.21, CPU) copies input 3, a whole pixel
    off. Up to 8 -> 12 pixels it happens for these four size pairs only (each at such a centre), so
    the catalog's sizes avoid them; downsampling and the other pairs agree."""
    for n_in, n_out, wrong in ((5, 9, True), (5, 11, True), (4, 12, True), (6, 10, True),
                               (5, 8, False), (4, 11, False), (6, 9, False), (3, 9, False)):
        impulses = tf.eye(n_in)[:, None, :]
        xla = tf.function(lambda t: tf.image.resize(t, [n_out, 1]), jit_compile=True)(impulses).numpy()[:, 0, :]
        exact = R.resize_weights(n_in, n_out)
        assert_within(T.resize_weights(n_in, n_out).numpy(), exact, 12 * EPS32, f"eager {n_in} -> {n_out}")
        off = np.abs(xla - exact).max(axis=1)
        if wrong:
            (i,) = np.flatnonzero(off > 1e-3)
            centre = (i + 0.5) * n_in / n_out - 0.5
            assert centre == int(centre) and off[i] == pytest.approx(1.0, abs=1e-5), (n_in, n_out, i, xla[i])
        else:
            assert off.max() <= 12 * EPS32, f"XLA {n_in} -> {n_out}: {off.max():.3g}"


def test_xla_bilinear_resize_gradient_is_garbage_below_and_above_float32():
    """Under jit_compile the gradient of tf.image.resize for a float16, bfloat16 or float64 image
    is garbage (values like 1e276, NaN: XLA's ResizeBilinearGrad writes float32 where the image's dtype
    is expected); float32 is right, as are eager and tf.function. Read in a child process (the garbage
    comes from memory XLA should not read). tfimpl.resize resizes in float32, which is right everywhere."""
    outcome = probe("""
        rng = np.random.default_rng(0)
        x, dy = rng.uniform(0, 1, (2, 3, 1)), rng.uniform(-1, 1, (3, 7, 1))
        def grad(dtype, jit):
            def g(a, b):
                with tf.GradientTape() as tape:
                    tape.watch(a)
                    y = tf.image.resize(a, (3, 7))
                return tape.gradient(y, a, output_gradients=tf.cast(b, y.dtype))
            return tf.function(g, jit_compile=jit)(tf.constant(x, dtype), tf.constant(dy, dtype)).numpy().astype(float)
        def verdict(d):
            return "right" if np.allclose(grad(d, True), grad(d, False), rtol=0.02, atol=0.02) else "wrong"
        print(" ".join(f"{d}:{verdict(d)}" for d in ("float16", "bfloat16", "float32", "float64")))
    """)
    assert outcome == "float16:wrong bfloat16:wrong float32:right float64:wrong", outcome.detail


def test_nearest_gradient_adds_dy_into_the_copied_pixel_and_has_no_xla_kernel():
    """Each input pixel collects the dy of every output that copied it (ResizeNearestNeighborGrad,
    summed in the image's dtype), eagerly, in tf.function and in a Session, for every dtype; XLA has
    no kernel for it, so the catalog's nearest entry checks values only."""
    nearest = BY_NAME["resize_nearest"]
    nearest = nearest.replace(ref_vjp=R.resize_vjp, tf_vjp=T.resize_vjp,
                              grad_tol=CI.modelled(CI.nearest_vjp_error, "the dy of each copy, summed in the dtype"))
    rng = np.random.default_rng(2)
    sample = Sample((rng.uniform(0, 1, (2, 3, 5, 2)),), {"size": (5, 8), "method": "nearest"}, "two-images")
    dy = rng.uniform(-1, 1, (2, 5, 8, 2))
    for dtype in DTYPES:
        for mode in ("eager", "function", "graph"):
            harness.check_gradient(nearest, sample, dy, dtype, mode)
    with pytest.raises(tf.errors.InvalidArgumentError, match="ResizeNearestNeighborGrad"):
        harness.check_gradient(nearest, sample, dy, "float32", "xla")


def test_xla_standardization_gradient_is_nan_on_a_uniform_image():
    """A uniform image sits below the floor (std 0 < 1 / sqrt(N)), so std gets no gradient and dx is
    (dy - mean(dy)) * sqrt(N), which eager and tf.function return; XLA returns NaN (sqrt's gradient
    0 * 0.5 / sqrt(0)). The catalog's samples give uniform images a small ramp."""
    uniform = np.full((2, 2, 1), 0.25, np.float32)
    dy = np.array([[[0.5], [-1.0]], [[0.25], [1.0]]], np.float32)
    expected = (dy - dy.mean()) * 2.0
    np.testing.assert_allclose(T.per_image_standardization_vjp(uniform, dy).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(R.per_image_standardization_vjp(uniform, dy), expected, rtol=1e-6)
    xla = tf.function(T.per_image_standardization_vjp, jit_compile=True)(uniform, dy).numpy()
    assert np.isnan(xla).all(), xla


def test_a_float_conversion_passes_the_gradient_straight_through_rounded_to_the_narrower_dtype():
    """Rounding to float16 is piecewise constant, yet TF's Cast gradient hands dy back cast to the
    source dtype: float32 -> float16 returns dy rounded to float16 (the straight-through convention
    reference.convert_image_dtype_vjp writes as dy); into uint8 there is no gradient: zeros."""
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, (2, 3, 3)).astype(np.float32)
    dy = rng.uniform(-1, 1, (2, 3, 3)).astype(np.float32)
    g = T.convert_image_dtype_vjp(x, dy.astype(np.float16), "float16").numpy()
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, dy.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(R.convert_image_dtype_vjp(x, dy, "float16"), dy)
    np.testing.assert_array_equal(T.convert_image_dtype_vjp(x, np.ones((2, 3, 3), np.uint8), "uint8").numpy(), 0.0)
    np.testing.assert_array_equal(R.convert_image_dtype_vjp(x, np.ones((2, 3, 3), np.uint8), "uint8"), 0.0)


# --- contrast, standardisation, crop ----------------------------------------------------------

@pytest.mark.claim("ch7.2", "tf.image.adjust_contrast(image, factor) scales each pixel's distance from the mean "
                            "by the factor", source="book")
def test_contrast_takes_the_mean_per_image_and_per_channel_over_height_and_width():
    """Two images whose channels have different means: each channel of each image is stretched
    about its own mean, not the batch's or the pixel's; a global mean would be off by 0.3 here."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (2, 3, 4, 3)) * np.array([0.2, 0.5, 1.0]) + np.array([[[[0.0]]], [[[0.4]]]])
    x32 = x.astype(np.float32)
    tf_out = T.adjust_contrast(x32, 2.0).numpy()
    ref = R.adjust_contrast(x32.astype(np.float64), 2.0)
    # the mean over 12 pixels (a tree sum, times float32(1 / 12)) then m + 2 (x - m): < 8 eps32 of 1.5
    assert_within(tf_out, ref, 12 * EPS32, "adjust_contrast against the per-image, per-channel reference")
    per_channel = x32.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(tf_out.mean(axis=(1, 2), keepdims=True), per_channel, atol=1e-6,
                               err_msg="each channel's mean is left where it was")
    global_mean = x32.mean()
    assert np.abs((x32 - global_mean) * 2 + global_mean - tf_out).max() > 0.3


@pytest.mark.claim("ch7.2", "tf.image.per_image_standardization gives the image mean 0 and variance 1",
                   source="book", verdict="corrected",
                   correction="it divides by max(std, 1 / sqrt(N)), N = H * W * C: a nearly uniform image "
                              "(std below 1 / sqrt(N)) is scaled by sqrt(N) and keeps a variance below 1; "
                              "a uniform one becomes (about) 0, not NaN")
def test_standardization_divides_by_the_std_floored_at_one_over_sqrt_n():
    rng = np.random.default_rng(5)
    n = 4 * 5 * 3
    varied = rng.uniform(0, 1, (4, 5, 3)).astype(np.float32)
    flat = (0.5 + 1e-3 * rng.uniform(-1, 1, (4, 5, 3))).astype(np.float32)
    uniform, seventy = np.full((4, 5, 3), 0.5, np.float32), np.full((4, 5, 3), 0.7, np.float32)
    y = T.per_image_standardization(np.stack([varied, flat, uniform, seventy])).numpy()
    assert_within(y.mean(axis=(1, 2, 3)), 0.0, 1e-6, "every image's mean")
    assert_within(y[0].var(), 1.0, 1e-5, "a varied image's variance")
    # the nearly uniform image: std ~ 6e-4 < 1 / sqrt(60) = 0.13, so y = (x - m) * sqrt(60)
    assert flat.std() < 1 / np.sqrt(n)
    assert_within(y[1], (flat - flat.mean()) * np.sqrt(n), 1e-5, "a nearly uniform image, scaled by sqrt(N)")
    assert y[1].var() < 1e-3
    np.testing.assert_array_equal(y[2], 0.0)  # 0.5 * 60 sums exactly: x - mean is 0
    # 0.7 does not: the float32 mean is off by its tree sum's rounding, <= 0.5 eps32 * 0.7 a level over
    # log2(60) + 1 levels, and that difference is multiplied by sqrt(60)
    assert_within(y[3], 0.0, 0.5 * 7 * EPS32 * 0.7 * np.sqrt(n), "a uniform 0.7 image")
    # the gradient of the uniform image is finite too: below the floor s is a constant
    dy = rng.uniform(-1, 1, (4, 5, 3)).astype(np.float32)
    g = T.per_image_standardization_vjp(uniform, dy).numpy()
    assert_within(g, R.per_image_standardization_vjp(uniform.astype(np.float64), dy.astype(np.float64)),
                  64 * EPS32 * np.sqrt(n), "the gradient at a uniform image, (dy - mean(dy)) * sqrt(N)")


@pytest.mark.claim("ch7.2", "tf.image.central_crop(image, 0.5) keeps the central 50% of the image",
                   source="book", verdict="corrected",
                   correction="along each axis of n pixels it keeps n - 2 * int((n - n * f) / 2): at least "
                              "f * n and up to 2 more (5 rows at 0.5 keep 3, not 2.5 or 2), centred")
def test_central_crop_keeps_n_minus_twice_the_truncated_margin():
    kept = {}
    for n in range(1, 12):
        for f in (0.1, 0.25, 0.5, 0.75, 0.9):
            image = np.arange(n * n, dtype=np.float32).reshape(n, n, 1)
            out = T.central_crop(image, f).numpy()
            np.testing.assert_array_equal(out, R.central_crop(image, f))
            kept[n, f] = out.shape[0]
            assert f * n <= out.shape[0] <= f * n + 2, (n, f, out.shape)
            assert (n - out.shape[0]) % 2 == 0, "the crop is centred: equal margins"
    assert kept[5, 0.5] == 3 and kept[4, 0.5] == 2 and kept[10, 0.25] == 4 and kept[1, 0.1] == 1


# --- conversions: float <-> uint8 ---------------------------------------------------------------

def truncated_float32(x, saturate):
    """float32 -> uint8 as convert_image_dtype's arithmetic does it, computed here with NumPy's
    float32: x * 255.5 rounded to float32, clipped to [0, 255] if saturate, cast (truncation toward
    zero; out of range wraps modulo 256)."""
    scaled = (x.astype(np.float32) * np.float32(255.5)).astype(np.float64)
    scaled = np.clip(scaled, 0, 255) if saturate else scaled
    return np.mod(np.trunc(scaled), 256).astype(np.uint8)


def test_float_to_uint8_truncates_x_times_255_5_and_saturates_only_when_asked():
    """Not round(255 x): floor(255.5 x) rounds up only in the top half of each step (0.5 -> 127, where
    rounding gives 128; 0.6 / 255 -> 0, where it gives 1), yet every k / 255 comes back as k, exactly. Out of range,
    saturate=True clips (1.2 -> 255, -0.1 -> 0); the default wraps modulo 256 (1.2 -> 50, -0.1 -> 231).
    bfloat16 cannot hold 255.5 (it rounds to 256), so a white bfloat16 pixel becomes 0 without saturate."""
    k = np.arange(256)
    grid = np.concatenate([k / 255, k / 255 + 0.4 / 255, k / 255 - 0.4 / 255, [0.5, 0.6 / 255, 1.2, -0.1, 1.003]])
    x = grid.astype(np.float32)
    for saturate in (False, True):
        tf_u8 = T.convert_image_dtype(x, "uint8", saturate=saturate).numpy()
        np.testing.assert_array_equal(tf_u8, truncated_float32(x, saturate), err_msg=f"saturate={saturate}")
        np.testing.assert_array_equal(R.convert_image_dtype(x, "uint8", saturate=saturate), tf_u8)
    np.testing.assert_array_equal(T.convert_image_dtype((k / 255).astype(np.float32), "uint8").numpy(), k)
    u8 = T.convert_image_dtype(np.float32([0.5, 0.6 / 255, 1.2, -0.1]), "uint8").numpy()
    assert u8.tolist() == [127, 0, 50, 231], u8
    assert T.convert_image_dtype(np.float32([1.2, -0.1]), "uint8", saturate=True).numpy().tolist() == [255, 0]
    white = tf.constant([1.0, 0.5], tf.bfloat16)
    assert T.convert_image_dtype(white, "uint8").numpy().tolist() == [0, 128]
    assert T.convert_image_dtype(white, "uint8", saturate=True).numpy().tolist() == [255, 128]
    assert R.convert_image_dtype(white.numpy(), "uint8").tolist() == [0, 128]


def test_float64_to_float16_rounds_twice_through_float32_in_every_mode():
    """1 + 2^-11 + 2^-40 lies just above the tie between the float16 neighbours 1 and 1 + 2^-10, so
    rounding it once (NumPy, the reference) gives 1 + 2^-10; TensorFlow casts float64 to float16
    through float32, which drops the 2^-40, and the exact tie then rounds to even: 1. The same eagerly,
    in tf.function, under XLA and in a Session; a float32 image converts exactly as NumPy does."""
    x = np.array([1 + 2.0 ** -11 + 2.0 ** -40, 1 + 2.0 ** -11 - 2.0 ** -40, 1 + 3 * 2.0 ** -11])
    once = R.convert_image_dtype(x, "float16")
    assert once.tolist() == [1 + 2.0 ** -10, 1.0, 1 + 2 * 2.0 ** -10]
    for mode in ("eager", "function", "xla", "graph"):
        twice = harness.run(lambda image: T.convert_image_dtype(image, "float16"), Sample((x,)), mode)
        assert twice.tolist() == [1.0, 1.0, 1 + 2 * 2.0 ** -10], (mode, twice)
        np.testing.assert_array_equal(twice, x.astype(np.float32).astype(np.float16))
    x32 = np.random.default_rng(6).uniform(0, 2, 1000).astype(np.float32)
    np.testing.assert_array_equal(T.convert_image_dtype(x32, "float16").numpy(), x32.astype(np.float16))


def test_uint8_to_float32_multiplies_by_float32_one_over_255_one_ulp_from_k_over_255():
    """k * float32(1 / 255), two roundings: 126 of the 256 values are one ulp from the correctly
    rounded k / 255 (the reference's), none further, 255 gives exactly 1.0, and converting back
    returns every k."""
    k = np.arange(256, dtype=np.uint8)
    f = T.convert_image_dtype(k, "float32").numpy()
    np.testing.assert_array_equal(f, k.astype(np.float32) * np.float32(1 / 255))
    ref = R.convert_image_dtype(k, "float32")
    ulps = np.abs(f.view(np.int32) - ref.view(np.int32))
    assert ulps.max() == 1 and int((ulps == 1).sum()) == 126 and f[255] == 1.0, (ulps.max(), (ulps == 1).sum())
    np.testing.assert_array_equal(T.convert_image_dtype(f, "uint8").numpy(), k)


@pytest.mark.claim("ch7.2", "image APIs take integer or float images; an integer image is converted to float "
                            "inside and back to integers after, and repeated conversions lose precision, so "
                            "convert to float before processing", source="book")
def test_uint8_adjustments_round_trip_through_float_and_lose_what_falls_between_levels():
    """Brightening a uint8 image by 0.6 / 255 and darkening it back returns a darker image (each step
    truncates (k + d) * 255.5 / 255 to a level: k + 0.6 stays k below level 203, then k - 0.6 drops
    to k - 1), where the float image comes back to within rounding; a delta of whole levels m / 255
    adds exactly m, saturating at 0 and 255, on both sides."""
    image = uint8_image(6, 7)
    there_and_back = T.adjust_brightness(T.adjust_brightness(image, 0.6 / 255), -0.6 / 255).numpy()
    assert there_and_back.dtype == np.uint8
    lost = image.astype(int) - there_and_back
    assert lost.min() >= 0 and lost.max() == 1 and np.array_equal(lost == 1, image < 203), "one level lost below 203"
    f = T.convert_image_dtype(image, "float32")
    f_back = T.adjust_brightness(T.adjust_brightness(f, 0.6 / 255), -0.6 / 255).numpy()
    assert_within(f_back, f.numpy(), 2 * EPS32, "the float image there and back")
    for m in (10, -10, 200, -200):
        expected = np.clip(image.astype(int) + m, 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(T.adjust_brightness(image, m / 255).numpy(), expected, err_msg=f"m = {m}")
        np.testing.assert_array_equal(R.adjust_brightness(image, m / 255), expected, err_msg=f"reference, m = {m}")


@pytest.mark.claim("ch7.2", "colour adjustments can take pixel values outside 0.0-1.0, so clip them with "
                            "tf.clip_by_value before output", source="book",
                   code="1.4.0/Chapter07/2.2. 图像预处理完整样例.ipynb, cell 2 (tf.clip_by_value(image, 0.0, 1.0))")
def test_float_adjustments_leave_0_1_and_uint8_ones_saturate_inside_the_op():
    f = smooth_image(5, 6)
    brighter = T.adjust_brightness(f.astype(np.float32), 0.5).numpy()
    contrasted = T.adjust_contrast(f.astype(np.float32), 3.0).numpy()
    assert brighter.max() > 1.0 and contrasted.min() < 0.0
    clipped = tf.clip_by_value(brighter, 0.0, 1.0).numpy()
    assert clipped.max() == 1.0
    u8 = uint8_image(5, 6)
    assert T.adjust_brightness(u8, 0.5).numpy().max() == 255
    u8_contrast = T.adjust_contrast(u8, 3.0).numpy()
    assert u8_contrast.min() == 0 and u8_contrast.max() == 255, "saturated at both ends, not wrapped"
    # TF's float32 mean and arithmetic against the float64 reference: a truncation can cross a level
    assert np.abs(u8_contrast.astype(int) - R.adjust_contrast(u8, 3.0).astype(int)).max() <= 1


def test_uint8_images_flip_exactly_resize_to_float32_and_standardize_their_raw_values():
    image = uint8_image(5, 6)
    flipped = T.flip_left_right(image).numpy()
    assert flipped.dtype == np.uint8
    np.testing.assert_array_equal(flipped, image[:, ::-1])
    resized = T.resize(image, (3, 4)).numpy()
    assert resized.dtype == np.float32 and resized.max() > 1.0, "bilinear resize of uint8 gives float32 on 0..255"
    # the float32 lerps on values up to 255: 4 ulps of 255 plus the positions' error
    assert_within(resized, R.resize(image, (3, 4)), 8 * 255 * EPS32, "uint8 bilinear resize")
    nearest = T.resize(image, (3, 4), method="nearest").numpy()
    assert nearest.dtype == np.uint8
    np.testing.assert_array_equal(nearest, R.resize(image, (3, 4), method="nearest"))
    std = T.per_image_standardization(image).numpy()
    assert std.dtype == np.float32
    assert_within(std, R.per_image_standardization(image), 1e-5, "standardised uint8, values taken as 0..255")
    gray = T.rgb_to_grayscale(image).numpy()
    assert gray.dtype == np.uint8 and np.abs(gray.astype(int) - R.rgb_to_grayscale(image).astype(int)).max() <= 1


def test_float64_images_are_processed_in_float32():
    """Grayscale, brightness, contrast, standardisation and bilinear resize convert a float64 image to
    float32 (image_ops_impl.py; ResizeBilinear reads any dtype as float): the float64 result holds
    float32 numbers only, off the float64 reference by float32's rounding. Flip, crop and nearest
    move float64 values untouched."""
    x = smooth_image(5, 6, seed=2)
    computed = {"rgb_to_grayscale": (T.rgb_to_grayscale, R.rgb_to_grayscale, {}),
                "adjust_brightness": (T.adjust_brightness, R.adjust_brightness, {"delta": 0.1}),
                "adjust_contrast": (T.adjust_contrast, R.adjust_contrast, {"contrast_factor": 1.5}),
                "per_image_standardization": (T.per_image_standardization, R.per_image_standardization, {}),
                "resize": (T.resize, R.resize, {"size": (4, 9)})}
    for name, (tf_fn, ref_fn, kwargs) in computed.items():
        out = tf_fn(x, **kwargs).numpy()
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, out.astype(np.float32).astype(np.float64),
                                      err_msg=f"{name}: a float64 result that is not a float32 number")
        err = np.abs(out - ref_fn(x, **kwargs)).max()
        assert 1e3 * eps("float64") < err < 20 * EPS32, f"{name}: {err:.3g} off the float64 reference"
    for tf_fn, kwargs in ((T.flip_left_right, {}), (T.central_crop, {"central_fraction": 0.5}),
                          (lambda im, **k: T.resize(im, (4, 9), method="nearest"), {})):
        out = tf_fn(x, **kwargs).numpy()
        assert not np.array_equal(out, out.astype(np.float32).astype(np.float64))


def test_adjust_contrast_has_no_float16_cpu_kernel_and_no_gradient():
    """TF's wrapper hands float16 to AdjustContrastv2, whose CPU kernel is float32 only (NotFoundError
    eagerly, on both kernel paths; XLA compiles its own); tfimpl casts around it. The op has no
    registered gradient: GradientTape raises LookupError, so the catalog entry has no vjp."""
    x16 = np.full((2, 2, 1), 0.5, np.float16)
    with pytest.raises(tf.errors.NotFoundError, match="AdjustContrastv2"):
        tf.image.adjust_contrast(x16, 1.5)
    assert tf.function(lambda t: tf.image.adjust_contrast(t, 1.5), jit_compile=True)(x16).dtype == tf.float16
    assert T.adjust_contrast(x16, 1.5).dtype == tf.float16
    x = tf.constant(np.random.default_rng(0).uniform(0, 1, (2, 2, 3)), tf.float32)
    with pytest.raises(LookupError, match="AdjustContrastv2"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.image.adjust_contrast(x, 2.0)
        tape.gradient(y, x)


# --- random ops: seeds, stateless ops, the book's chain ---------------------------------------

def split(seed, k):
    """seeds[k] of tfimpl.image.sample_distortions's split."""
    return tf.random.experimental.stateless_split(tf.constant(seed, tf.int64), num=8)[k]


def test_stateless_flip_repeats_and_the_reference_reproduces_it_from_the_decision_read_back():
    """tf.image.stateless_random_flip_left_right(image, seed) gives the same image for the same seed,
    flips iff stateless_uniform(seed) < 0.5 (sample_distortions reads that decision back), and the
    reference's flip reproduces it. A batch decides the other way: NHWC flips iff round(u) = 1, u > 0.5,
    so one image flips for a seed where the same image as a batch of one does not."""
    image = smooth_image(3, 4).astype(np.float32)
    for s in range(12):
        seed = split((s, 3), 2)
        first = tf.image.stateless_random_flip_left_right(image, seed).numpy()
        np.testing.assert_array_equal(tf.image.stateless_random_flip_left_right(image, seed).numpy(), first)
        decision = bool(tf.random.stateless_uniform([], seed) < 0.5)
        if s < 3:
            assert T.sample_distortions(image.shape, (s, 3))["flip"] == decision
        np.testing.assert_array_equal(first, R.flip_left_right(image) if decision else image)
        batched = tf.image.stateless_random_flip_left_right(image[None], seed).numpy()[0]
        np.testing.assert_array_equal(batched, image if decision else R.flip_left_right(image))


@pytest.mark.claim("ch7.2", "tf.image.random_flip_left_right(image) flips the image with probability 1/2",
                   source="book")
def test_random_flip_flips_half_the_time():
    """Over 200 seeds the stateless flip fires 100 +- 28 times (4 binomial standard deviations)."""
    image = tf.constant([[[0.0], [1.0]]])
    fired = sum(int(tf.image.stateless_random_flip_left_right(image, (s, 0))[0, 0, 0]) for s in range(200))
    assert 72 <= fired <= 128, fired


def test_stateless_colour_ops_are_adjust_ops_with_a_stateless_uniform_factor():
    """stateless_random_brightness / _contrast / _saturation / _hue(image, ..., seed) equal adjust_*
    with the factor stateless_uniform([], seed, low, high) draws, bitwise; the brightness delta read
    back from a zero pixel is that draw; the reference's adjust_brightness with it is TF's image bitwise
    (one correctly rounded float32 addition on each side)."""
    image = smooth_image(4, 5).astype(np.float32)
    image[0, 0, 0] = 0.0
    seed = split((9, 9), 4)
    low, high = R.DISTORTION_RANGES["brightness"]
    out = tf.image.stateless_random_brightness(image, high, seed).numpy()
    delta = out[0, 0, 0]
    assert delta == np.float32(tf.random.stateless_uniform([], seed, low, high))
    assert delta == np.float32(T.sample_distortions(image.shape, (9, 9))["brightness"])
    np.testing.assert_array_equal(out, tf.image.stateless_random_brightness(image, high, seed).numpy())
    np.testing.assert_array_equal(out, R.adjust_brightness(image, delta))
    for name, op, adjust in (("contrast", tf.image.stateless_random_contrast, T.adjust_contrast),
                             ("saturation", tf.image.stateless_random_saturation, T.adjust_saturation)):
        lo, hi = R.DISTORTION_RANGES[name]
        factor = tf.random.stateless_uniform([], seed, lo, hi)
        np.testing.assert_array_equal(op(image, lo, hi, seed).numpy(), adjust(image, factor).numpy(), err_msg=name)
    hue = tf.random.stateless_uniform([], seed, -0.2, 0.2)
    np.testing.assert_array_equal(tf.image.stateless_random_hue(image, 0.2, seed).numpy(),
                                  T.adjust_hue(image, hue).numpy())


def test_seeded_tf1_random_ops_repeat_in_a_fresh_graph_and_tf2_ones_after_set_seed():
    """TF1: with a graph-level seed (tf.compat.v1.set_random_seed) and op seeds, random_flip_left_right
    and random_brightness give the same image in two separate graphs and Sessions; TF2: after
    tf.random.set_seed the same seeded op calls repeat."""
    image = smooth_image(4, 5).astype(np.float32)

    def tf1_run():
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.set_random_seed(1)
            out = tf.image.random_brightness(tf.image.random_flip_left_right(image, seed=2), 32 / 255, seed=3)
            with tf.compat.v1.Session(graph=graph) as sess:
                return sess.run(out)
    np.testing.assert_array_equal(tf1_run(), tf1_run())

    def tf2_run():
        tf.random.set_seed(5)
        return tf.image.random_brightness(image, 32 / 255, seed=3).numpy()
    try:
        first = tf2_run()
        np.testing.assert_array_equal(tf2_run(), first)
    finally:
        tf.random.set_seed(None)  # the global seed is the process's: a later seeded op must not inherit it
    assert not np.array_equal(first, image)


CHAIN_BOUND = 128 * EPS32
"""TF's float32 chain against the float64 reference, absolutely (values within [-0.2, 1.2]), step by
step in eps32: the uint8 conversion 0.5; resizing to 16 x 16 keeps the float32 positions exact (in / 16
is a float32), so the resize costs its 4 ulps; brightness 0.5: e = 5. Saturation and hue are each an
RGB -> HSV -> RGB round trip of about 15 float32 ops (0.5 ulp each; h's relative error reaches the
output times 6 c <= 6), about 15, after carrying the error before them with a slope of at most 2:
e = 2 * 5 + 15 = 25, then 2 * 25 + 15 = 65; contrast's mean over 768 values (5.5) and 3 ops (1.5),
after a slope of at most 1.5: 1.5 * 65 + 7 = 105 <= 128. Measured: 2.4."""


def book_distort_color_v1(image, color_ordering=0):
    """The book's distort_color (1.4.0/Chapter07/2.2. 图像预处理完整样例.ipynb, cell 2), as printed but
    through tf.compat.v1: two fixed orders of the four random colour ops, then the clip."""
    v1 = tf.compat.v1.image
    if color_ordering == 0:
        image = v1.random_brightness(image, max_delta=32. / 255.)
        image = v1.random_saturation(image, lower=0.5, upper=1.5)
        image = v1.random_hue(image, max_delta=0.2)
        image = v1.random_contrast(image, lower=0.5, upper=1.5)
    else:
        image = v1.random_saturation(image, lower=0.5, upper=1.5)
        image = v1.random_brightness(image, max_delta=32. / 255.)
        image = v1.random_contrast(image, lower=0.5, upper=1.5)
        image = v1.random_hue(image, max_delta=0.2)
    return tf.clip_by_value(image, 0.0, 1.0)


def book_preprocess_for_train_v1(image, height, width, bbox):
    """The book's preprocess_for_train (the same notebook, cell 4), as printed but through tf.compat.v1:
    the resize method and the colour order come from np.random.randint, in Python, while the graph is
    built."""
    v1 = tf.compat.v1.image
    if image.dtype != tf.float32:
        image = v1.convert_image_dtype(image, dtype=tf.float32)
    bbox_begin, bbox_size, _ = v1.sample_distorted_bounding_box(tf.shape(image), bounding_boxes=bbox,
                                                                min_object_covered=0.4)
    distorted_image = tf.slice(image, bbox_begin, bbox_size)
    distorted_image = v1.resize_images(distorted_image, [height, width], method=np.random.randint(4))
    distorted_image = v1.random_flip_left_right(distorted_image)
    return book_distort_color_v1(distorted_image, np.random.randint(2))


RESIZE_OPS = ["ResizeBilinear", "ResizeNearestNeighbor", "ResizeBicubic", "ResizeArea"]
"""The op resize_images builds for method 0, 1, 2, 3 (ResizeMethodV1: BILINEAR, NEAREST_NEIGHBOR,
BICUBIC, AREA)."""
COLOUR_ORDERS = [["AdjustSaturation", "AdjustHue", "AdjustContrastv2"],
                 ["AdjustSaturation", "AdjustContrastv2", "AdjustHue"]]
"""distort_color's ops in graph order for color_ordering 0 and 1 (brightness is an AddV2)."""


@pytest.mark.claim("ch7.2", "preprocess_for_train crops a random box, resizes it, flips it at random and "
                            "distorts its colours in a random order, so each epoch sees a different image",
                   source="book", verdict="corrected",
                   code="1.4.0/Chapter07/2.2. 图像预处理完整样例.ipynb, cell 4 (resize_images(..., "
                        "method=np.random.randint(4)), distort_color(..., np.random.randint(2)))",
                   correction="the crop, the flip and the colour amounts are random ops, drawn again at every run; "
                              "the resize method (one of 4) and the colour order (one of 2) are drawn by "
                              "np.random.randint once, in Python, when the graph is built: one training graph "
                              "resizes one way and distorts in one order for every epoch (the notebook's nine "
                              "pictures vary because each call builds the ops again)")
def test_the_books_preprocess_for_train_fixes_its_resize_method_and_colour_order_when_the_graph_is_built():
    """Six graphs built after np.random.seed(0..5): each holds exactly the one resize op and the one
    colour order that replaying np.random predicts, all four methods and both orders among them; in
    each graph, three runs (three epochs) give three different images, through those same ops."""
    image = uint8_image(24, 32, seed=1)
    seen, saved = set(), np.random.get_state()  # the book draws from NumPy's global generator
    for seed in range(6):
        np.random.seed(seed)
        method, ordering = np.random.randint(4), np.random.randint(2)
        np.random.seed(seed)
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.set_random_seed(1)
            out = book_preprocess_for_train_v1(tf.constant(image), 16, 16, tf.constant([[[0.1, 0.1, 0.9, 0.8]]]))
        np.random.set_state(saved)
        types = [op.type for op in graph.get_operations()]
        assert [t for t in types if t.startswith("Resize")] == [RESIZE_OPS[method]], (seed, types)
        assert [t for t in types if t.startswith("Adjust")] == COLOUR_ORDERS[ordering], (seed, types)
        seen.add((method, ordering))
        with tf.compat.v1.Session(graph=graph) as sess:
            epochs = [sess.run(out) for _ in range(3)]
        assert all(e.shape == (16, 16, 3) and 0 <= e.min() and e.max() <= 1 for e in epochs)
        assert min(np.abs(a - b).max() for a, b in itertools.combinations(epochs, 2)) > 0.05, seed
    assert {m for m, _ in seen} == {0, 1, 2, 3} and {o for _, o in seen} == {0, 1}, seen


def test_seeded_preprocessing_chain_repeats_and_the_numpy_twin_reproduces_it():
    """Decode a PNG made here (exact), draw the distortions from a seed pair, run the chain twice:
    bitwise the same image; the NumPy twin given the same choices gives it within CHAIN_BOUND, for
    the drawn choices and for both colour orderings, both resize methods and both flips; another seed
    gives another image."""
    png = tf.io.encode_png(uint8_image(24, 32, seed=1))
    decoded = tf.io.decode_png(png, channels=3)
    np.testing.assert_array_equal(decoded.numpy(), uint8_image(24, 32, seed=1))
    bbox = [[[0.1, 0.1, 0.9, 0.8]]]
    outputs = {}
    for seed in ((7, 11), (1, 2)):
        d = T.sample_distortions(decoded.shape, seed, bbox)
        assert d == T.sample_distortions(decoded.shape, seed, bbox), "the same seed draws the same choices"
        first = T.preprocess_for_train(decoded, 16, 16, d).numpy()
        np.testing.assert_array_equal(T.preprocess_for_train(decoded, 16, 16, d).numpy(), first)
        assert first.shape == (16, 16, 3) and first.min() >= 0.0 and first.max() <= 1.0
        outputs[seed] = first
        variants = [dict(d, color_ordering=o, method=m, flip=f) for o in (0, 1) for m in ("bilinear", "nearest")
                    for f in (False, True)] if seed == (7, 11) else [d]
        for v in variants:
            tf_image = first if v == d else T.preprocess_for_train(decoded, 16, 16, v).numpy()
            assert_within(tf_image, R.preprocess_for_train(decoded.numpy(), 16, 16, v), CHAIN_BOUND,
                          f"the chain with {v}")
    assert np.abs(outputs[(7, 11)] - outputs[(1, 2)]).max() > 0.05


def test_numpy_draws_the_same_kinds_of_choices_from_its_own_stream():
    """reference.sample_distortions draws from NumPy's generator: the same seed repeats, the choices
    lie where TF's do (a box inside the image, the book's ranges), the stream is NumPy's, not TF's."""
    shape = (24, 32, 3)
    for seed in range(20):
        d = R.sample_distortions(shape, seed)
        assert d == R.sample_distortions(shape, seed)
        (top, left), (h, w) = d["begin"], d["size"]
        assert 0 <= top and top + h <= 24 and 0 <= left and left + w <= 32 and h >= 1 and w >= 1
        for name, (lo, hi) in R.DISTORTION_RANGES.items():
            assert lo <= d[name] <= hi, (name, d[name])
        t = T.sample_distortions(shape, (seed, 0))
        assert set(t) == set(d) and all(lo <= t[n] <= hi for n, (lo, hi) in R.DISTORTION_RANGES.items())


# --- hue and saturation against the reference ---------------------------------------------------

HUE_ROUNDINGS = 35
"""TF's AdjustHue kernel in float32, per pixel, in units of u v (u = eps / 2, v = max(r, g, b)): the hue
fraction (g - b) / (6 range) takes 4 roundings relative to it (the difference, 6 range, its reciprocal,
the product: an absolute 4u / 6, as the fraction is at most 1/6), the sector's offset, + delta and the
wrap one each (3u); dh = 6 h multiplies those by 6 and rounds once more (6u): 28u in dh, moved into the
output by c = s v <= v; then c (2 roundings), 1 - |dh mod 2 - 1| and its product with c (3), m = v - c
(1) and x + m (1), each at most u v. Measured: 5.4 eps v at most, 31 % of it."""
SATURATION_ROUNDINGS = 30
"""AdjustSaturation likewise: the hue fraction and sector (4u / 6 + 2u) times 6 plus dh's rounding
(22u in dh), s and s * factor (2), c = s v (1), the chroma's two roundings, m and x + m (3), in u v.
Measured: 4.0 eps v at most, 27 % of it."""


def hsv_sample():
    """Random pixels in [0, 1] with every hue sector, plus gray, black, white and pure primaries."""
    img = np.random.default_rng(17).random((2, 12, 12, 3)).astype(np.float32)
    img[0, 0, :6] = [[0.5, 0.5, 0.5], [0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    return img


@pytest.mark.planted
@pytest.mark.parametrize("delta", [-0.5, -0.2, 0.1, 1 / 3, 0.5])
def test_adjust_hue_takes_the_reference_rotation_within_its_float32_roundings(delta):
    img = hsv_sample()
    bound = HUE_ROUNDINGS * EPS32 / 2 * img.max(axis=-1, keepdims=True)
    got = T.adjust_hue(img, delta).numpy()
    assert_within(got, R.adjust_hue(img.astype(np.float64), delta), bound, f"adjust_hue(delta={delta})")
    # sharp: a rotation 1e-4 of a turn off fails the same bound
    with pytest.raises(AssertionError, match="elements off"):
        assert_within(got, R.adjust_hue(img.astype(np.float64), delta + 1e-4), bound, "planted hue")


@pytest.mark.planted
@pytest.mark.parametrize("factor", [0.0, 0.3, 1.0, 1.7, 4.0])
def test_adjust_saturation_takes_the_reference_scaling_within_its_float32_roundings(factor):
    img = hsv_sample()
    bound = SATURATION_ROUNDINGS * EPS32 / 2 * img.max(axis=-1, keepdims=True)
    got = T.adjust_saturation(img, factor).numpy()
    assert_within(got, R.adjust_saturation(img.astype(np.float64), factor), bound, f"adjust_saturation({factor})")
    if factor != 0.0:  # sharp: a factor 0.1 % off fails (0 stays 0; at 4.0 most pixels clip to s = 1, some do not)
        with pytest.raises(AssertionError, match="elements off"):
            assert_within(got, R.adjust_saturation(img.astype(np.float64), factor * 1.001), bound, "planted factor")


def abs_jacobian_per_pixel(op, x, h=1e-5):
    """|d op(x)_i / d x_k| for a per-pixel op on (..., 3) float64 pixels, by one-sided differences
    (the larger of the two, so a kink of the piecewise-linear HSV formulas within h counts its
    steeper side): (..., 3, 3). h is larger than any error carried through it."""
    mid, out = op(x), np.zeros(x.shape + (3,))
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        out[..., :, k] = np.maximum(np.abs(op(x + e) - mid), np.abs(mid - op(x - e))) / h
    return out


def distort_steps(brightness, saturation, hue, contrast):
    """distort_color's four steps on the reference, by letter: b(rightness), s(aturation), h(ue), c(ontrast)."""
    return {"b": lambda x: R.adjust_brightness(x, brightness), "s": lambda x: R.adjust_saturation(x, saturation),
            "h": lambda x: R.adjust_hue(x, hue), "c": lambda x: R.adjust_contrast(x, contrast)}


def distort_color_bound(image, ordering, brightness, saturation, hue, contrast):
    """The float32 error bound of distort_color per element, in eps: each step's own rounding (the
    catalog's brightness_error and contrast_error; HUE_ROUNDINGS and SATURATION_ROUNDINGS u v above),
    taken at the reference's input of that step, carried through the later steps by their Jacobians at
    the reference's points (the HSV steps' per pixel by differences; contrast's f e + (1 - f) mean(e),
    a channel's mean moving every pixel of it), then the clip (slope 0 or 1)."""
    step = distort_steps(brightness, saturation, hue, contrast)
    error = {"b": lambda x: CI.brightness_error("float32", x, brightness),
             "s": lambda x: np.broadcast_to(SATURATION_ROUNDINGS / 2 * x.max(axis=-1, keepdims=True), x.shape),
             "h": lambda x: np.broadcast_to(HUE_ROUNDINGS / 2 * x.max(axis=-1, keepdims=True), x.shape),
             "c": lambda x: CI.contrast_error("float32", x, contrast)}
    order = ("bshc", "sbch")[ordering]
    points = [image]
    for s in order:
        points.append(step[s](points[-1]))
    carry = [None] * len(order)  # what an error before step j becomes after it
    for j, s in enumerate(order):
        if s == "b":
            carry[j] = lambda e: e
        elif s == "c":
            carry[j] = lambda e: abs(contrast) * e + abs(1 - contrast) * e.mean(axis=(-3, -2), keepdims=True)
        else:
            jac = abs_jacobian_per_pixel(step[s], points[j])
            carry[j] = lambda e, jac=jac: np.einsum("...ik,...k->...i", jac, e)
    total = np.zeros_like(image)
    for j, s in enumerate(order):
        e = error[s](points[j])
        for later in range(j + 1, len(order)):
            e = carry[later](e)
        total = total + e
    return total


DISTORTIONS = [(0, 0.1, 1.3, 0.15, 0.7), (1, -0.12, 0.6, -0.18, 1.4), (0, 32 / 255, 1.5, 0.2, 1.5),
               (1, -32 / 255, 0.5, -0.2, 0.5)]
"""(color_ordering, brightness, saturation, hue, contrast): both orderings, inside and at the ends of
the book's ranges (brightness 32/255, saturation and contrast [0.5, 1.5], hue 0.2)."""


@pytest.mark.planted
@pytest.mark.parametrize("ordering,brightness,saturation,hue,contrast", DISTORTIONS)
def test_distort_color_takes_the_reference_steps_within_the_carried_roundings(ordering, brightness, saturation,
                                                                              hue, contrast):
    """The book's distort_color with its draws given, tfimpl (four tf.image ops and the clip, float32)
    against the reference within distort_color_bound. Measured: 2.3 to 6.3 % of it used (the worst
    case of four steps' roundings rarely meets in one pixel; each step alone uses 27 to 31 %, above).
    Sharp: the other ordering's steps, a hue 1e-3 of a turn off, and the steps without the final clip
    (where a pixel leaves [0, 1]) each fail the bound."""
    img = hsv_sample()
    args = (ordering, brightness, saturation, hue, contrast)
    got = T.distort_color(img, *args).numpy()
    want = R.distort_color(img.astype(np.float64), *args)
    bound = distort_color_bound(img.astype(np.float64), *args) * EPS32
    what = f"distort_color(image, {ordering}, {brightness:.4g}, {saturation}, {hue}, {contrast})"
    assert_within(got, want, bound, what)
    other = R.distort_color(img.astype(np.float64), 1 - ordering, *args[1:])
    unclipped, step = img.astype(np.float64), distort_steps(brightness, saturation, hue, contrast)
    for s in ("bshc", "sbch")[ordering]:
        unclipped = step[s](unclipped)
    hue_off = R.distort_color(img.astype(np.float64), ordering, brightness, saturation, hue + 1e-3, contrast)
    planted = [("the other ordering", other), ("a hue 1e-3 of a turn off", hue_off)]
    planted += [("no clip", unclipped)] * bool(np.any(unclipped != want))
    assert len(planted) == 3 or contrast < 1, "the strongest distortions leave [0, 1]: the clip's plant must bite"
    for name, wrong in planted:
        with pytest.raises(AssertionError, match="elements off"):
            assert_within(got, wrong, bound, f"planted: {name}")


# --- the random choices' law, on both sides ----------------------------------------------------

LAW_DRAWS, ALPHA = 10_000, 1e-6
"""The law tests: sample_distortions drawn for 10,000 fixed seeds on each side (reference: seeds 0 ..
9,999; tfimpl: (s, 0)), every claim tested at ALPHA: a chi-square p-value (or a Kolmogorov-Smirnov
one) under it fails. The seeds are fixed, so the verdict is fixed; ALPHA is the chance that a correct
side fails for another set of seeds (a new NumPy or TF random stream), about 16 tests a case. The power
against the biases named in test_the_law_tests_power_against_a_biased_flip_offsets_and_range, and
the planted tests below, show them fail."""

LAW_CASES = {"6x8": ((6, 8, 3), None), "24x32-bbox": ((24, 32, 3), ((0.1, 0.1, 0.9, 0.8),))}
"""A small image (15 sizes, 106 boxes: every box is drawn often) and the chain test's image with its
bounding box (180 sizes, 20,800 boxes: the sizes and the offsets are tested, the joint only coarsely)."""

BOOK_RANGES = {"brightness": (-32 / 255, 32 / 255), "saturation": (0.5, 1.5), "hue": (-0.2, 0.2),
               "contrast": (0.5, 1.5)}
"""The book's draws, spelled here (not read from either side): random_brightness(max_delta=32/255),
random_saturation(0.5, 1.5), random_hue(0.2), random_contrast(0.5, 1.5)."""

KERNEL_DEFAULTS = {"aspect_ratio_range": (0.75, 1.33), "area_range": (0.05, 1.0), "min_object_covered": 0.1,
                   "max_attempts": 100}
"""tf.image.stateless_sample_distorted_bounding_box's defaults (its docstring, image_ops_impl.py) with the
chain's min_object_covered."""


@functools.cache
def crop_law(height, width, bbox=None, cells=2 ** 18):
    """{(top, left, h, w): probability} of the box TF's SampleDistortedBoundingBox kernel returns
    (tensorflow/core/kernels/image/sample_distorted_bounding_box_op.cc) with KERNEL_DEFAULTS, computed by
    enumeration, not by drawing. Each of up to 100 attempts draws an aspect ratio r uniform in [0.75, 1.33)
    (here: the midpoints of 2^18 equal cells; the box is a step function of r with a few hundred steps, so
    the law is off by under 1e-3 in all); GenerateRandomCrop takes the height uniform on the integers from
    lrint(sqrt(min_area / r)) to lrint(sqrt(max_area / r)) (the top cut to the largest h with lrint(h r) <=
    W, then to H; a bottom above the top gives the top), w = lrint(h r), h one up if h w < min_area, then
    one down if h w > max_area, the attempt failing if the area, w or h is still out of range; the offsets
    are Uniform(H - h) and Uniform(W - w) (0 .. H - h - 1: a smaller crop never touches the bottom or right
    edge), 0 where the crop spans the axis. SatisfiesOverlapConstraints keeps it if it covers at least
    min_object_covered of a box of at least one pixel, the box's corners truncated to pixels (int(y * H));
    the first kept attempt is the result: the law of one kept attempt, times the chance one of 100 is kept,
    and the whole image with the rest. min_area and max_area and the covered fraction are float32, as there."""
    lo_r, hi_r = KERNEL_DEFAULTS["aspect_ratio_range"]
    r = lo_r + (np.arange(cells) + 0.5) / cells * (hi_r - lo_r)
    min_area, max_area = (np.float32(a) * np.float32(width) * np.float32(height) for a in KERNEL_DEFAULTS["area_range"])
    low, high = np.rint(np.sqrt(min_area / r)), np.rint(np.sqrt(max_area / r))
    wide = np.rint(high * r) > width
    high = np.where(wide, np.floor((width + 0.5 - 1e-7) / r), high)
    high = np.minimum(np.where(wide & (np.rint(high * r) > width), high - 1, high), height)
    low = np.minimum(low, high)
    sizes = np.zeros((height + 2, width + 2))
    for h0 in range(1, height + 1):
        chance = np.where((low <= h0) & (h0 <= high), 1 / (high - low + 1), 0.0) / cells
        h = np.full(cells, float(h0))
        h = np.where(np.rint(h * r) * h < min_area, h + 1, h)
        h = np.where(np.rint(h * r) * h > max_area, h - 1, h)
        w = np.rint(h * r)
        ok = (chance > 0) & (min_area <= w * h) & (w * h <= max_area) & (0 < w) & (w <= width) & (0 < h) & (h <= height)
        np.add.at(sizes, (h[ok].astype(int), w[ok].astype(int)), chance[ok])
    boxes = np.array([[0, 0, 1, 1]] if bbox is None else bbox, np.float32).reshape(-1, 4)
    pixels = [(int(b[0] * np.float32(height)), int(b[1] * np.float32(width)), int(b[2] * np.float32(height)),
               int(b[3] * np.float32(width))) for b in boxes]
    kept = {}
    for h, w in zip(*np.nonzero(sizes)):
        tops, lefts = np.arange(max(height - h, 1))[:, None], np.arange(max(width - w, 1))[None, :]
        covered = np.zeros((tops.size, lefts.size), bool)
        for y0, x0, y1, x1 in pixels:
            inside = (np.maximum(0, np.minimum(y1, tops + h) - np.maximum(y0, tops))
                      * np.maximum(0, np.minimum(x1, lefts + w) - np.maximum(x0, lefts)))
            area = (y1 - y0) * (x1 - x0)
            if area >= 1:
                covered |= inside.astype(np.float32) / np.float32(area) >= np.float32(KERNEL_DEFAULTS["min_object_covered"])
        for t, left in zip(*np.nonzero(covered)):
            kept[(int(t), int(left), int(h), int(w))] = sizes[h, w] / covered.size
    q = sum(kept.values())
    law = {box: p / q * (1 - (1 - q) ** KERNEL_DEFAULTS["max_attempts"]) for box, p in kept.items()}
    whole = (0, 0, height, width)
    law[whole] = law.get(whole, 0.0) + (1 - q) ** KERNEL_DEFAULTS["max_attempts"]
    return law


def marginal(law, key):
    """The law of key(outcome)."""
    out = {}
    for outcome, p in law.items():
        out[key(outcome)] = out.get(key(outcome), 0.0) + p
    return out


def chi_square_cells(law, n):
    """The cells of a chi-square test of n draws against ``law``: each outcome expected at least 5 times
    is a cell, the rest pooled into one (the approximation of the null holds from 5 a cell)."""
    big = sorted((k for k, p in law.items() if n * p >= 5), key=str)
    rest = sorted((k for k, p in law.items() if n * p < 5), key=str)
    return big + ([tuple(rest)] if rest else []), rest


def assert_law(outcomes, law, what):
    """A chi-square test of the outcomes against ``law`` (chi_square_cells); an outcome the law gives
    no chance fails at once."""
    impossible = sorted({o for o in outcomes} - set(law), key=str)
    assert not impossible, f"{what}: outcomes the law never gives: {impossible[:5]} ({len(impossible)} in all)"
    n = len(outcomes)
    counts = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    cells, rest = chi_square_cells(law, n)
    pooled = set(rest)
    observed = np.array([counts.get(c, 0) for c in cells[:len(cells) - bool(rest)]]
                        + [sum(counts.get(k, 0) for k in pooled)] * bool(rest), float)
    expected = n * np.array([law[c] for c in cells[:len(cells) - bool(rest)]] + [sum(law[k] for k in pooled)] * bool(rest))
    p = stats.chi2.sf(np.sum((observed - expected) ** 2 / expected), len(cells) - 1)
    worst = int(np.argmax(np.abs(observed - expected) / np.sqrt(expected)))
    assert p > ALPHA, (f"{what} is not distributed as the law says: p = {p:.2g} over {len(cells)} cells; worst "
                       f"cell {cells[worst] if worst < len(cells) - bool(rest) else 'pooled'}: "
                       f"{observed[worst]:.0f} drawn, {expected[worst]:.1f} expected")


def assert_choices_follow_the_law(draws, shape, bbox, what):
    """The whole law of sample_distortions's choices: the box (joint, its size (h, w), its top and its
    left offsets) as crop_law; the method, the flip and the colour ordering each uniform over its two
    values and the three independent (their eight joint cells uniform); each colour factor uniform on its
    BOOK_RANGES (Kolmogorov-Smirnov)."""
    law = crop_law(shape[0], shape[1], bbox)
    boxes = [d["begin"] + d["size"] for d in draws]
    for name, key in (("box", lambda b: b), ("size", lambda b: b[2:]), ("top offset", lambda b: b[0]),
                      ("left offset", lambda b: b[1])):
        assert_law([key(b) for b in boxes], marginal(law, key), f"{what}: the crop's {name}")
    two = {"method": ("bilinear", "nearest"), "flip": (False, True), "color_ordering": (0, 1)}
    for name, values in two.items():
        assert_law([d[name] for d in draws], {v: 0.5 for v in values}, f"{what}: the {name}")
    assert_law([tuple(d[k] for k in two) for d in draws], {c: 1 / 8 for c in itertools.product(*two.values())},
               f"{what}: (method, flip, color_ordering)")
    for name, (low, high) in BOOK_RANGES.items():
        p = stats.kstest([d[name] for d in draws], "uniform", args=(low, high - low)).pvalue
        assert p > ALPHA, f"{what}: the {name} factor is not uniform on [{low:.4g}, {high:.4g}]: p = {p:.2g}"


def reference_draws(shape, bbox, n=LAW_DRAWS):
    return [R.sample_distortions(shape, seed, bbox) for seed in range(n)]


def tfimpl_draws(shape, bbox, n=LAW_DRAWS):
    """tfimpl's choices for the seeds (s, 0), s < n: its _draws mapped over the seeds in one tf.function
    (sample_distortions reads _draws back; the first three seeds are read through it and must agree)."""
    signature = (tf.int32, tf.int32, tf.int32, tf.bool, tf.int32, tf.float32)
    batch = tf.function(lambda seeds: tf.map_fn(lambda s: T._draws(shape, s, bbox), seeds,
                                                fn_output_signature=signature), autograph=False)
    seeds = tf.stack([tf.range(n, dtype=tf.int64), tf.zeros(n, tf.int64)], axis=1)
    begin, size, method, flip, ordering, factors = (v.numpy() for v in batch(seeds))
    draws = [dict(begin=tuple(begin[s].tolist()), size=tuple(size[s].tolist()), method=("bilinear", "nearest")[method[s]],
                  flip=bool(flip[s]), color_ordering=int(ordering[s]),
                  **{k: float(v) for k, v in zip(("brightness", "saturation", "hue", "contrast"), factors[s])})
             for s in range(n)]
    for s in range(3):
        assert T.sample_distortions(shape, (s, 0), bbox) == draws[s], f"seed {(s, 0)}: the batch is not the function"
    return draws


@pytest.mark.parametrize("case", LAW_CASES)
@pytest.mark.parametrize("side", ["reference", "tfimpl"])
def test_sample_distortions_draws_by_the_law_of_tfs_kernels(side, case):
    """Each side's sample_distortions over 10,000 fixed seeds follows the law it claims
    (assert_choices_follow_the_law): the crop as TF's SampleDistortedBoundingBox kernel draws it
    (crop_law), the flip, the method and the colour ordering fair coins, the colour factors uniform on the
    book's ranges. Measured: about 1.3 s for the reference (its Python loop of attempts), 0.9 s for tfimpl
    (one traced map_fn), each with 0.4 s for the law, on 2 loaded cores."""
    shape, bbox = LAW_CASES[case]
    draws = (reference_draws if side == "reference" else tfimpl_draws)(shape, bbox)
    assert_choices_follow_the_law(draws, shape, bbox, f"{side} {case}")


def planted_offsets_law(law, height, width, axis):
    """The law of the top (axis 0) or left (axis 1) offset when, within each size, offset 0 has twice its
    chance (2 / n of n offsets, the others sharing the rest evenly): without a bounding box the offsets
    are uniform given the size, so the plant's law is this, exactly."""
    out = {}
    for box, p in law.items():
        n = (height - box[2], width - box[3])[axis]
        share = 1.0 if n < 2 else n * (2 / n if box[axis] == 0 else (1 - 2 / n) / (n - 1))
        out[box[axis]] = out.get(box[axis], 0.0) + p * share
    return out


def chi_square_power(law, biased, n):
    """The power of assert_law's test of n draws from ``biased`` against ``law`` at ALPHA, by the
    noncentral chi-square approximation (noncentrality n sum (p1 - p0)^2 / p0 over the cells)."""
    cells, rest = chi_square_cells(law, n)
    cells = [c for c in cells if c != tuple(rest)]
    p0 = np.array([law[c] for c in cells] + [sum(law[k] for k in rest)] * bool(rest))
    p1 = np.array([biased.get(c, 0.0) for c in cells] + [sum(biased.get(k, 0.0) for k in rest)] * bool(rest))
    df = len(p0) - 1
    return stats.ncx2.sf(stats.chi2.isf(ALPHA, df), df, n * np.sum((p1 - p0) ** 2 / p0))


def test_the_law_tests_power_against_a_biased_flip_offsets_and_range():
    """The power of the law tests at 10,000 draws and ALPHA = 1e-6 (noncentral chi-square approximation):
    a flip with probability 0.55 instead of 0.5 fails the flip's test (1 degree of freedom, failing above
    23.9; noncentrality 100) with power 0.9999998, and the eight-cell joint (7 degrees, above 40.5) with
    0.99997. A crop whose offset 0 has twice its chance (2 / n of n offsets) on an axis fails that offset's
    test with power 1 in double precision on both cases' images without a box; half that bias (1.5 times
    the chance) with 0.9999999999999 or more, a third of it (4/3) with 0.996 or more (the 24x32 image's
    left offset, 23 cells, is the weakest), a quarter (5/4) with 0.65 there. A factor drawn from a range
    5 % short at one end (hue in [-0.2, 0.18]) is 0.05 away in the Kolmogorov-Smirnov distance, above the
    0.027 at which 10,000 draws fail at ALPHA (the asymptotic critical value sqrt(ln(2 / ALPHA) / 2n)).
    Simulated: 2,000 flip tests under the 0.55 flip all fail; under the fair one the 1 % test rejects 1 %
    of them (the chi-square approximation of the null holds)."""
    n = LAW_DRAWS
    fair = {False: 0.5, True: 0.5}
    assert chi_square_power(fair, {False: 0.45, True: 0.55}, n) > 0.999999
    joint = {c: 1 / 8 for c in itertools.product((0, 1), (False, True), (0, 1))}
    assert chi_square_power(joint, {c: (0.55 if c[1] else 0.45) / 4 for c in joint}, n) > 0.9999
    for shape, _ in LAW_CASES.values():
        law = crop_law(shape[0], shape[1])
        for axis in (0, 1):
            biased = planted_offsets_law(law, shape[0], shape[1], axis)
            fair_offsets = marginal(law, lambda b, axis=axis: b[axis])
            for share, power in ((1, 1 - 1e-12), (1 / 2, 1 - 1e-12), (1 / 3, 0.995)):
                part = {o: p0 + (biased[o] - p0) * share for o, p0 in fair_offsets.items()}
                assert chi_square_power(fair_offsets, part, n) > power, (shape, axis, share)
    critical = np.sqrt(np.log(2 / ALPHA) / (2 * n))
    assert 0.026 < critical < 0.028 and 0.02 / 0.4 > critical
    rng = np.random.default_rng(20)
    flips = rng.binomial(n, 0.55, size=2000)
    assert np.all(stats.chi2.sf((flips - n / 2) ** 2 / (n / 4), 1) < ALPHA)
    fair_flips = rng.binomial(n, 0.5, size=2000)
    assert abs(np.mean(stats.chi2.sf((fair_flips - n / 2) ** 2 / (n / 4), 1) < 0.01) - 0.01) < 0.008


class BiasedFlip:
    """A NumPy Generator whose uniform() (no range: the flip's draw) is below 0.5 with probability 0.55."""

    def __init__(self, rng):
        self.rng = rng

    def __getattr__(self, name):
        return getattr(self.rng, name)

    def uniform(self, *bounds):
        return self.rng.uniform(*bounds) if bounds else self.rng.uniform() * 0.5 / 0.55


class PlantedNumPy:
    """numpy with default_rng replaced: monkeypatched in as reference.image's ``np``."""

    def __init__(self, wrap):
        self.random = type("random", (), {"default_rng": staticmethod(lambda seed: wrap(np.random.default_rng(seed)))})

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.planted
def test_planted_a_flip_with_probability_0_55_fails_the_law_test(monkeypatch):
    shape, bbox = LAW_CASES["6x8"]
    monkeypatch.setattr(R, "np", PlantedNumPy(BiasedFlip))
    draws = reference_draws(shape, bbox)
    assert 0.54 < np.mean([d["flip"] for d in draws]) < 0.56  # the plant is the bias named
    with pytest.raises(AssertionError, match="the flip is not distributed as the law says"):
        assert_choices_follow_the_law(draws, shape, bbox, "reference with a 0.55 flip")


@pytest.mark.planted
def test_planted_crops_favouring_offset_0_fail_the_law_test(monkeypatch):
    """Each attempt's offsets moved to 0 with probability 1 / (n - 1) of n offsets: offset 0 then has
    chance 2 / n, twice its share, on each axis."""
    shape, bbox = LAW_CASES["6x8"]
    random_crop, rng = R._random_crop, np.random.default_rng(20)

    def favouring_0(generator, height, width, ratio, area_range):
        crop = random_crop(generator, height, width, ratio, area_range)
        if crop is None:
            return None
        top, left, h, w = crop
        n, m = height - h, width - w
        return (0 if n >= 2 and rng.uniform() < 1 / (n - 1) else top,
                0 if m >= 2 and rng.uniform() < 1 / (m - 1) else left, h, w)
    monkeypatch.setattr(R, "_random_crop", favouring_0)
    draws = reference_draws(shape, bbox)
    with pytest.raises(AssertionError, match="the crop's top offset is not distributed as the law says"):
        law = crop_law(shape[0], shape[1])
        assert_law([d["begin"][0] for d in draws], marginal(law, lambda b: b[0]), "planted: the crop's top offset")
    with pytest.raises(AssertionError, match="the crop's box is not distributed as the law says"):
        assert_choices_follow_the_law(draws, shape, bbox, "planted")


@pytest.mark.planted
def test_planted_a_hue_range_5_percent_short_fails_the_law_test(monkeypatch):
    shape, bbox = LAW_CASES["6x8"]
    monkeypatch.setitem(R.DISTORTION_RANGES, "hue", (-0.2, 0.18))
    with pytest.raises(AssertionError, match="the hue factor is not uniform"):
        assert_choices_follow_the_law(reference_draws(shape, bbox), shape, bbox, "reference with a short hue range")


def test_tfs_random_flip_forms_flip_with_probability_one_half():
    """The flip forms a reader calls, 10,000 decisions each, every one a fair coin by the flip's law test
    (chi-square at ALPHA; power 0.9999998 against a 0.55 flip): tf.image.stateless_random_flip_left_right
    on one image per seed (seeds (s, 0); the form sample_distortions reads back) and on a batch of 10,000
    from one seed (a decision per image), and the book's tf.compat.v1.image.random_flip_left_right in a
    Session, on one image 10,000 times (a map_fn: the stateful op draws at each pass) and on a batch. A
    1x2 image [0, 1] shows each decision in its first pixel. About 1 s, most of it the two map_fns."""
    n, pair = LAW_DRAWS, tf.constant([[[0.0], [1.0]]])
    seeds = tf.stack([tf.range(n, dtype=tf.int64), tf.zeros(n, tf.int64)], axis=1)
    one_a_seed = tf.function(lambda s: tf.map_fn(lambda k: tf.image.stateless_random_flip_left_right(pair, k)[0, 0, 0],
                                                 s, fn_output_signature=tf.float32), autograph=False)
    batch = tf.tile(pair[None], [n, 1, 1, 1])
    forms = {"stateless, an image a seed": one_a_seed(seeds).numpy(),
             "stateless, a batch": tf.image.stateless_random_flip_left_right(batch, (20, 0))[:, 0, 0, 0].numpy()}
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(1)
        image = tf.constant([[[0.0], [1.0]]])
        single = tf.map_fn(lambda _: tf.compat.v1.image.random_flip_left_right(image, seed=2)[0, 0, 0], tf.range(n),
                           fn_output_signature=tf.float32)
        batched = tf.compat.v1.image.random_flip_left_right(tf.tile(image[None], [n, 1, 1, 1]), seed=3)[:, 0, 0, 0]
        with tf.compat.v1.Session(graph=graph) as sess:
            forms["TF1 in a Session, an image"], forms["TF1 in a Session, a batch"] = sess.run([single, batched])
    for form, first_pixels in forms.items():
        assert set(np.unique(first_pixels)) <= {0.0, 1.0}, f"{form}: a pixel that is neither: {np.unique(first_pixels)}"
        assert_law((first_pixels == 1).tolist(), {False: 0.5, True: 0.5}, f"{form}: the flip")
