"""The book's chapters and the module pairs that check them: the one map, in the book's order.

Chapter numbers are the second edition's (2018). Where the first edition (2017) numbers a section
differently, ``first_edition`` gives its number; the chapter on GPUs and parallelism is 12 in the
second edition and was 10 in the first.

Each module has one *primary* chapter, the entry that lists it in ``modules``: the side-by-side
index (``tools/sidebyside.py``) and the README's chapter table place the module there. A module
that a later or an earlier section uses as well is listed in that section's ``also``: ``nn``
(forward propagation, 4.1) also runs backprop and gradient descent (4.3); ``activations`` (4.1)
also holds softmax (4.2.1); ``losses`` (4.2.1) also holds the custom loss (4.2.2); ``variables``
(variable management, 5.3) also holds the loss collections of regularisation (4.4.2); ``data``
(datasets, 7.4) also gives the queues' pipeline (7.3); ``parallel`` (several GPUs, 12.3) also
runs on several machines (12.4).

A leaf: it imports nothing from tests/, so the conftest, the tools and the tests can all read it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    number: str
    """The second edition's number, as a string: "3", "4.2.1", "12.3"."""
    title: str
    modules: tuple = ()
    """Modules (reference/ and tfimpl/ names) whose primary chapter this is."""
    also: tuple = ()
    """Modules this section uses too, whose primary chapter is another."""
    first_edition: str | None = None
    """The first edition's number, only where it differs from ``number``."""

    @property
    def label(self):
        """"12.3 [1st ed.: 10.3]", or the number alone where both editions agree."""
        return self.number + (f" [1st ed.: {self.first_edition}]" if self.first_edition else "")

    @property
    def all_modules(self):
        """The primary modules, then the others."""
        return self.modules + self.also

    def within(self, prefix):
        """True if this entry is chapter ``prefix`` or a section of it: "4" and "4.2" hold "4.2.1";
        "1" does not hold "12"."""
        prefix = normalise(prefix)
        return self.number == prefix or self.number.startswith(prefix + ".")


CHAPTERS = (
    Chapter("3", "graphs, tensors, sessions", modules=("graph",)),
    Chapter("4.1", "forward propagation, activation functions", modules=("nn", "activations")),
    Chapter("4.2.1", "softmax, cross-entropy and the mean squared error", modules=("losses",),
            also=("activations",)),
    Chapter("4.2.2", "a custom loss and its training program", also=("losses",)),
    Chapter("4.3", "backprop, gradient descent, stochastic gradient descent and mini-batches", also=("nn",)),
    Chapter("4.4.1", "learning-rate decay", modules=("schedules",)),
    Chapter("4.4.2", "regularisation and loss collections", modules=("regularizers",), also=("variables",)),
    Chapter("4.4.3", "exponential moving averages", modules=("moving_average",)),
    Chapter("5.3", "variable management", modules=("variables",)),
    Chapter("5.4", "saving and restoring models: checkpoints", modules=("checkpoint",)),
    Chapter("6.5", "transfer learning", modules=("transfer",)),
    Chapter("7.1", "TFRecord", modules=("tfrecord",)),
    Chapter("7.2", "image preprocessing", modules=("image",)),
    Chapter("7.3", "multithreaded input: queues and the whole input pipeline", also=("data",)),
    Chapter("7.4", "datasets: tf.data", modules=("data",)),
    Chapter("8", "recurrent networks: RNN, LSTM, backprop through time", modules=("rnn",)),
    Chapter("12.1", "GPUs: device placement, selection and memory", modules=("devices",), first_edition="10.1"),
    Chapter("12.3", "synchronous data parallelism on several devices", modules=("parallel",),
            first_edition="10.3"),
    Chapter("12.4", "distributed TensorFlow: several machines", also=("parallel",), first_edition="10.4"),
)


def normalise(chapter):
    """"ch4.2" / "4.2." / " 4.2 " -> "4.2"."""
    text = str(chapter).strip()
    if text.lower().startswith("ch"):
        text = text[2:]
    return text.strip().rstrip(".")


def chapters(prefix=None):
    """The entries of chapter ``prefix`` and its sections ("4" -> 4.1, 4.2.1, ..., 4.4.3), in book
    order; every entry when ``prefix`` is None. An unknown chapter is a ValueError naming the known
    ones."""
    if prefix is None:
        return CHAPTERS
    found = tuple(c for c in CHAPTERS if c.within(prefix))
    if not found:
        raise ValueError(f"no chapter {normalise(prefix)!r} in tests/chapters.py; the chapters are "
                         + ", ".join(c.number for c in CHAPTERS))
    return found


def modules_of(prefix):
    """The modules chapter ``prefix`` checks, primary or not, each once, in book order:
    modules_of("4.2") == ("losses", "activations"); modules_of("4") holds every module of 4.x."""
    out = []
    for c in chapters(prefix):
        out += [m for m in c.all_modules if m not in out]
    return tuple(out)


def claimed(where):
    """The entries a claim marker's ``where`` names (tests/claims.py): "ch4.2" -> 4.2.1 and 4.2.2,
    "ch4.2.1" -> 4.2.1, "ch8.2" -> 8 (a section of an entry the map keeps whole); a chapter the second
    edition does not have is read as the first edition's ("ch10" -> 12.1, 12.3, 12.4). A page ("p78"),
    "snippet" or anything else names none: this map knows no pages."""
    text = str(where).strip().lower()
    if not text.startswith("ch") or not normalise(text).replace(".", "").isdigit():
        return ()
    number = normalise(text)
    found = tuple(c for c in CHAPTERS if c.within(number) or number.startswith(c.number + "."))
    return found or tuple(c for c in CHAPTERS if c.first_edition and (
        c.first_edition == number or c.first_edition.startswith(number + ".")
        or number.startswith(c.first_edition + ".")))


def primary_chapter(module):
    """The entry that lists ``module`` in its ``modules``, or None for a module the book map
    does not know."""
    return next((c for c in CHAPTERS if module in c.modules), None)


def chapters_of(module):
    """Every entry that names ``module``, primary or not, in book order."""
    return tuple(c for c in CHAPTERS if module in c.all_modules)


def book_order(modules):
    """``modules`` sorted by their primary chapter (then as given); modules the map does not know
    come last, in the order given."""
    rank = {m: (i, j) for i, c in enumerate(CHAPTERS) for j, m in enumerate(c.modules)}
    given = list(modules)
    return sorted(given, key=lambda m: (*rank.get(m, (len(CHAPTERS), 0)), given.index(m)))
