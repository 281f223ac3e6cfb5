"""The concept catalog: one ``Concept`` entry per concept drives the generic tests
(tests/test_catalog.py), the agreement report, the benchmarks and the side-by-side pages.

Adding a concept = its two functions (reference/ and tfimpl/) plus one entry appended to
CATALOG in the topic module of this package (tests/catalog/<topic>.py). Concept-specific
facts get their own named tests beside it. What an entry is made of is tests/catalog/concept.py.

Glossary (the one place tfref defines its words; docs/checks.md points here)
--------
Concept (catalog entry)
    One concept as the checks see it: its reference and TF functions, the strategy that draws its
    samples, its edges, per-dtype tolerances with their reasons, gradients, bad input and a
    benchmark input. The generic matrix, the agreement report and the benchmarks all read it.
Sample
    One call: positional args and keyword args; float64 arrays are cast to the dtype under test,
    anything else stays as it is.
strategy
    A hypothesis strategy that draws Samples (tests/catalog/strategies.py).
edge
    A fixed Sample pinning an edge: an empty batch, one element, extreme magnitudes, inf, NaN.
BadInput
    An input both sides must reject for the same reason: the same exception and message, in every mode.
KernelFact
    An edge whose answer depends on the kernel path or the TensorFlow release, stated per path and
    release (docs/kernel-paths.md); any other answer fails.
ModeRejection
    A mode in which TF cannot run an entry at all (XLA without a kernel for one of its ops): the
    matrix leaves the mode out, and a test holds TF to the stated error there, so it cannot outlive
    its reason.
mode
    The four ways TF runs code here: eager (op by op, TF2's default), function (traced once into a
    graph by tf.function), xla (tf.function(jit_compile=True), compiled by XLA once per concrete
    shape) and graph (TF1's placeholders run by a Session). tests/harness.py runs every function in each.
eps (machine epsilon)
    The gap between 1 and the next number of a dtype: 2^-10 float16, 2^-7 bfloat16, 2^-23 float32,
    2^-52 float64 (tests/precision.py). One correctly rounded operation is off by at most eps / 2
    relative. Tolerances are counted in eps.
ulp (unit in the last place)
    The gap between a number and its neighbour: about eps * |x|.
tiny
    The smallest normal number of a dtype; below it (subnormal numbers) precision drops, and TF's
    CPU kernels may flush such numbers to zero (in graph mode, and on some paths eagerly).
Tol (tolerance)
    A budget counted in eps (n_eps) times a scale per element: |reference|, max(|reference|, floor),
    or an error model's bound.
error model
    A function of (dtype, *args, **kwargs) giving, per output element, how far a correctly rounded
    computation may land from the exact one, in eps (tests/catalog/error_models.py).
vjp (vector-Jacobian product)
    What backprop computes: given the upstream gradient dy of a function's output, the gradient of
    sum(dy * f(x)) with respect to x. Each differentiable function has a *_vjp twin on both sides.
Eigen / oneDNN (kernel path)
    TensorFlow's two CPU kernel libraries; which one runs is the kernel path (tests/machine.py,
    docs/kernel-paths.md).
grappler
    TF's graph optimiser: it rewrites graphs inside tf.function and Session (fusing MatMul + BiasAdd,
    for instance), not eager code.
TF32
    A reduced-precision float32 matmul mode of recent NVIDIA GPUs; tfref turns it off, so float32
    means float32.
claim / source / verdict
    A statement a test answers (@pytest.mark.claim, tests/claims.py), whose it is (source: the book, the
    reader's notes, tfref's port to TF2, TF's docs) and what the test shows of it (verdict: holds;
    corrected, right with a missing detail; changed, right for the TF the book used and different since
    a named release; wrong, wrong in its own TF version). docs/claims.md is the table.
replica / worker / chief
    Under tf.distribute, a replica is one copy of the training step on one device; a worker is one
    process of a cluster of machines; worker 0 is the chief (docs/devices.md).
"""
from tests.catalog import activations, image, losses, moving_average, nn, regularizers, rnn, schedules

TOPICS = (activations, nn, losses, schedules, regularizers, moving_average, image, rnn)
"""The topic modules, in the book's order of chapters (4.1 ... 4.4, 7.2, 8)."""

CATALOG = tuple(concept for topic in TOPICS for concept in topic.CATALOG)
BY_NAME = {c.name: c for c in CATALOG}
assert len(BY_NAME) == len(CATALOG), f"duplicate concept names in the catalog: {[c.name for c in CATALOG]}"

