"""Hints: the mistakes learners really make, each with the failure it leaves in a grade, the advice
that fixes it and where the book (a claim a test answers) or the README's pitfalls say so.

The grader (tests/grader.py) shows a hint under a failing function when the hint is for that
function (or for any function: "*") and its signature matches the function's failures:

    Gives(model)        at a failing case's worst element, the learner's value is what ``model``
                        (NumPy: the mistake, written out) gives on the same call: closer to it
                        than a quarter of the learner's distance from the reference
    TestFails(test)     the named test fails (its message matching ``message``, if given)
    TracedOnly()        no eager case fails, and every failure is an exception raised in a traced
                        mode (tf.function, XLA, a Session)
    WrongDtype()        a case returns another dtype than its input's
    BadInputOnly()      only bad-input cases fail

Every hint is checked by a planted learner solution that makes its mistake (tests/learners/,
tests/test_grader.py); ``source`` names the claim's test (tests/mentions.py reads the claim from
it) or the README's pitfall.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

import reference.activations as RA
import reference.losses as RL
import reference.moving_average as RM
import reference.rnn as RR
from reference import image as RI
from reference.activations import softmax as ref_softmax
from tests.precision import DTYPES, eps, np_dtype

_NP_SCALAR = re.compile(r"^np\.\w+\((.*)\)$")


def number_text(text):
    """A value as the harness's messages write it ("np.float64(0.5)", "nan"), without the wrapper."""
    m = _NP_SCALAR.match(str(text).strip())
    return m.group(1) if m else str(text).strip()


# --- signatures ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Gives:
    model: object
    checks: tuple = ("values", "edges")

    def matches(self, failures, passed, match):
        return any(f["check"] in self.checks and match(self.model, f, f.get("dtype")) for f in failures)


@dataclass(frozen=True)
class TestFails:
    test: str
    message: str = ""

    def matches(self, failures, passed, match):
        return any(f["check"] == "named" and f["test"].split("[", 1)[0].endswith("::" + self.test)
                   and re.search(self.message, f.get("message", "") + "\n" + f.get("detail", ""))
                   for f in failures)


@dataclass(frozen=True)
class TracedOnly:
    def matches(self, failures, passed, match):
        """Every failure is an exception in a traced mode (a value that is merely off is another story)."""
        return (bool(failures) and all(f.get("mode") in ("function", "xla", "graph") for f in failures)
                and all(f.get("error") == "an exception" for f in failures)
                and any(p.get("mode") == "eager" for p in passed))


@dataclass(frozen=True)
class WrongDtype:
    def matches(self, failures, passed, match):
        return any(f.get("error") == "wrong dtype" for f in failures)


@dataclass(frozen=True)
class BadInputOnly:
    def matches(self, failures, passed, match):
        return bool(failures) and all(f["check"] == "bad input" for f in failures)


@dataclass(frozen=True)
class Hint:
    id: str
    function: str
    """"module.name" of the function it is about, or "*"."""
    text: str
    source: str
    """"claim <test id>" (the claim marker on that test) or "pitfall <chapter>" (README)."""
    when: object


# --- deciding a Gives signature: the failing call read back, the mistake run on it -----------

class _ArrayNamespace:
    """``np`` for eval()uating a call_text: np.array(values, dtype='bfloat16') with tfref's dtypes."""
    def array(self, values, dtype="float64"):
        return np.asarray(values, dtype=np.float64).astype(np_dtype(dtype)) if dtype in DTYPES else np.asarray(
            values, dtype=dtype)


def parse_call(text):
    """(args, kwargs) of a call written by call_text, or None."""
    if not text or "(" not in text:
        return None
    body = text[text.index("("):]
    captured = {}

    def capture(*args, **kwargs):
        captured["args"], captured["kwargs"] = args, kwargs
    try:
        eval("_capture" + body, {"__builtins__": {}}, {"_capture": capture, "np": _ArrayNamespace(),
                                                       "nan": np.nan, "inf": np.inf})
    except Exception:  # noqa: BLE001 - a call that cannot be read back has no mistake model
        return None
    return captured.get("args", ()), captured.get("kwargs", {})


def _value(text):
    try:
        return float(number_text(text))
    except (TypeError, ValueError):
        return None


def mistake_matches(mistake, failure, dtype):
    """True where ``mistake`` (a NumPy function: what the known mistake computes) gives, on the
    failing call, the value the learner's function returned at the worst element: closer to it than
    a quarter of the learner's distance from the reference."""
    parsed = parse_call(failure.get("call"))
    got, expected = _value(failure.get("got")), _value(failure.get("expected"))
    if parsed is None or got is None or "index" not in failure:
        return False
    args, kwargs = parsed
    try:
        with np.errstate(all="ignore"):
            out = mistake(*args, **kwargs)
        leaf = np.asarray(tf.nest.flatten(out)[failure.get("output", 0)], np.float64)
        index = ast.literal_eval(failure["index"])
        value = float(leaf[index])
    except Exception:  # noqa: BLE001 - a model that does not apply to this call does not match
        return False
    if np.isnan(got) or np.isnan(value):
        return bool(np.isnan(got) and np.isnan(value))
    if np.isinf(got) or np.isinf(value):
        return got == value
    if expected is None or not np.isfinite(expected):
        return abs(got - value) <= 8 * eps(dtype or "float32") * max(abs(value), 1e-30)
    return abs(got - value) <= 0.25 * abs(got - expected)



# --- the mistakes, written out -------------------------------------------------------------------

def unshifted_softmax(logits, axis=-1):
    """exp(z) / sum exp(z) without subtracting the max, in the logits' own dtype: exp(11.1) is
    already float16's largest number."""
    e = np.exp(logits)
    return e / np.sum(e, axis=axis, keepdims=True)


def maximum_relu_vjp(x, dy):
    """The gradient of tf.maximum(x, 0): ties send dy to x, so the slope at x = 0 is 1."""
    return dy * (np.asarray(x) >= 0)


def abs_kink_sigmoid_vjp(x, dy):
    """The gradient of a sigmoid through exp(-|x|): tf.abs's gradient at 0 is 0, and so is the slope there."""
    return RA.sigmoid_vjp(x, dy) * (np.asarray(x) != 0)


def unshifted_log_softmax(logits, axis=-1):
    return logits - np.log(np.sum(np.exp(logits), axis=axis, keepdims=True))


def fed_probabilities(labels, logits, axis=-1):
    """softmax_cross_entropy_with_logits given softmax(logits): softmax applied twice."""
    return RL.softmax_cross_entropy_with_logits(labels, ref_softmax(logits, axis=axis), axis=axis)


def fed_probabilities_sparse(labels, logits):
    return RL.sparse_softmax_cross_entropy_with_logits(labels, ref_softmax(logits))


def uncapped_ema(shadow, value, decay, num_updates=None):
    """The update with the plain decay: num_updates ignored."""
    return RM.ema_update(shadow, value, decay)


def rounded_staircase(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """lr * rate ** p with p = step / decay_steps rounded to the nearest integer instead of floored."""
    p = np.asarray(global_step, np.float64) / decay_steps
    if staircase:
        p = np.round(p)
    return np.asarray(learning_rate, np.float64) * np.asarray(decay_rate, np.float64) ** p


def tf1_gate_order(x_t, h, c, kernel, recurrent_kernel, bias):
    """The cell with z split as TF1's LSTMCell packs it, [i | c | f | o], while the weights are
    Keras's [i | f | c | o]: the reference cell on weights whose f and c blocks are swapped."""
    units = np.shape(recurrent_kernel)[0]
    order = np.concatenate([np.arange(units) + b * units for b in (0, 2, 1, 3)])
    return RR.lstm_cell(x_t, h, c, np.asarray(kernel)[:, order], np.asarray(recurrent_kernel)[:, order],
                        np.asarray(bias)[order])


def linear_rnn(x, kernel, recurrent_kernel, bias, h0=None):
    """h_t = x_t K + h_{t-1} R + b: the recurrence without tanh."""
    x = np.asarray(x, np.float64)
    h = np.zeros((x.shape[0], np.shape(recurrent_kernel)[0])) if h0 is None else np.asarray(h0, np.float64)
    outputs = []
    for t in range(x.shape[1]):
        h = x[:, t] @ np.asarray(kernel, np.float64) + h @ np.asarray(recurrent_kernel, np.float64) + bias
        outputs.append(h)
    return np.stack(outputs, axis=1), h


def tf1_grid_resize(image, size, method="bilinear", antialias=False):
    """TF1's resize_images: output pixel i samples the input at i * in / out (no half-pixel centres)."""
    return RI.resize_v1(image, size, method)


# --- the table -----------------------------------------------------------------------------------

HINTS = (
    Hint("relu-kink", "activations.relu",
         "relu's gradient at x = 0 is 0 (TensorFlow's convention, tf.nn.relu); tf.maximum(x, 0) sends dy through "
         "there, since its ties go to the first argument: use tf.nn.relu, ch4.1",
         "pitfall 4.1", Gives(maximum_relu_vjp, ("gradients", "edges"))),
    Hint("sigmoid-abs-kink", "activations.sigmoid",
         "the slope at x = 0 is lost: exp(-|x|) keeps the sigmoid from overflowing, but tf.abs's gradient at 0 is 0; "
         "write -|x| as tf.where(x >= 0, -x, x) (or call tf.math.sigmoid), ch4.1",
         "pitfall 4.1", Gives(abs_kink_sigmoid_vjp, ("gradients", "edges"))),
    Hint("softmax-overflow", "activations.softmax",
         "softmax overflows in float16 at logits ≈ 11 (exp(11.1) is float16's largest number; float32's "
         "is exp(88.7)): subtract the row max first, exp(z - max z) / sum exp(z - max z), ch4.2.1",
         "claim tests/test_activations.py::test_softmax_is_shift_invariant", Gives(unshifted_softmax)),
    Hint("log-softmax-overflow", "activations.log_softmax",
         "log(sum(exp(z))) overflows for large logits: take it after the max shift, "
         "z - max z - log sum exp(z - max z), ch4.2.1",
         "claim tests/test_activations.py::test_log_softmax_stays_finite_where_softmax_underflows",
         Gives(unshifted_log_softmax)),
    Hint("xent-fed-probabilities", "losses.softmax_cross_entropy_with_logits",
         "the cross-entropy was fed probabilities: tf.nn.softmax_cross_entropy_with_logits applies softmax "
         "itself, so give it the logits (softmax twice pulls every loss towards log(classes)), ch4.2.1",
         "claim tests/test_losses.py::"
         "test_the_books_logits_form_is_the_cross_entropy_and_softmax_output_fed_to_it_is_softmaxed_twice",
         Gives(fed_probabilities)),
    Hint("sparse-xent-fed-probabilities", "losses.sparse_softmax_cross_entropy_with_logits",
         "the cross-entropy was fed probabilities: tf.nn.sparse_softmax_cross_entropy_with_logits applies "
         "softmax itself, so give it the logits, ch4.2.1",
         "pitfall 4.2", Gives(fed_probabilities_sparse)),
    Hint("ema-num-updates", "moving_average.ema_update",
         "the decay ignores num_updates: ExponentialMovingAverage uses min(decay, (1 + n) / (10 + n)), "
         "so early shadows follow the variable closely, p91",
         "claim tests/test_moving_average.py::test_num_updates_caps_the_decay_early_and_decay_wins_later",
         Gives(uncapped_ema)),
    Hint("staircase-rounds", "schedules.exponential_decay",
         "staircase floors step / decay_steps (tf.floor), it does not round: the rate must hold for the whole "
         "interval [k decay_steps, (k + 1) decay_steps), ch4.4.1",
         "claim tests/test_schedules.py::test_staircase_decay_is_constant_within_each_interval",
         Gives(rounded_staircase)),
    Hint("lstm-tf1-gate-order", "rnn.lstm_cell",
         "the gates are split in TF1's order i, c, f, o (tf.nn.rnn_cell.LSTMCell); Keras's kernel packs them "
         "i, f, c, o, ch8.2",
         "claim tests/test_rnn.py::test_keras_lstm_packs_its_gates_input_forget_candidate_output",
         Gives(tf1_gate_order)),
    Hint("rnn-no-tanh", "rnn.simple_rnn",
         "the state is not squashed: h_t = tanh(x_t K + h_{t-1} R + b), ch8.1",
         "claim tests/test_rnn.py::test_book_two_step_rnn_gives_states_0537_0462_then_0860_0884_and_outputs_156_then_273",
         Gives(linear_rnn)),
    Hint("tfrecord-plain-crc", "tfrecord.write_records",
         "TensorFlow's reader finds the first record corrupted: a TFRecord frame stores masked CRC-32Cs, "
         "((crc >> 15 | crc << 17) + 0xa282ead8) mod 2**32, of the length and of the data, not the plain CRCs, ch7.1",
         "claim tests/test_tfrecord.py::test_a_record_is_any_bytes_framed_by_its_length_and_two_masked_crcs",
         TestFails("test_each_side_reads_the_others_file_and_both_write_the_same_bytes", r"corrupted record at 0")),
    Hint("resize-tf1-grid", "image.resize",
         "the resize samples TF1's grid (input position i * in / out, as tf.compat.v1.image.resize_images); "
         "TF2's tf.image.resize samples at half-pixel centres, (i + 0.5) * in / out - 0.5, ch7.2",
         "claim tests/test_image.py::test_bilinear_resize_samples_at_half_pixel_centres_and_tf1_resize_images_on_the_legacy_grid",
         Gives(tf1_grid_resize)),
    Hint("traced-only", "*",
         "it works eagerly but fails when traced (tf.function, XLA, a TF1 Session): there a tensor has no value "
         "yet, so a NumPy call on it (np.size, np.max, .numpy()) or a Python if on it cannot run; use TensorFlow "
         "ops (tf.size, tf.reduce_max, tf.where, tf.cond), ch3.2",
         "claim tests/test_graph.py::test_a_graph_tensor_prints_as_node_colon_output_index_with_shape_and_dtype",
         TracedOnly()),
    Hint("wrong-dtype", "*",
         "the result's dtype is not the input's: compute in x.dtype (tf.cast constants to it; NumPy: avoid "
         "np.float64 scalars), as every tfref function keeps its input's dtype",
         "pitfall 4.2", WrongDtype()),
    Hint("bad-input", "*",
         "only the bad-input checks fail: both sides reject bad input with the same message (reference/_checks.py "
         "MESSAGES); keep the input checks the stub starts with (tfimpl/_checks.py, reference/_checks.py)",
         "pitfall 4.2", BadInputOnly()),
)
BY_ID = {h.id: h for h in HINTS}


def matching(module, name, kind, failures, passed, match=None):
    """The hints whose signature matches ``failures`` (dicts: check, dtype, mode, test, and what
    grader.describe_failure read from the exception) of the function ``module.name``; ``passed``
    likewise for the cases that passed. ``match(model, failure, dtype)`` decides a Gives signature
    (default: mistake_matches)."""
    match = match or mistake_matches
    key = f"{module}.{name}"
    return [h for h in HINTS if h.function in (key, "*") and h.when.matches(failures, passed, match)]
