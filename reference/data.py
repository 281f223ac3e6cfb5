"""tf.data as plain Python generators: a ``Dataset`` is a recipe for an iterator, each
transformation a generator of a few lines wrapped around the one before, so a pipeline is
chained as the book chains it (7.4.3) and reads the same on both sides:

    dataset = Dataset.from_tensor_slices((images, labels))
    dataset = dataset.map(parser)
    dataset = dataset.shuffle(buffer_size).batch(batch_size)
    dataset = dataset.repeat(epochs)
    for image_batch, label_batch in dataset: ...

Each generator produces the order TF's kernel produces (tensorflow/core/kernels/data/
*_dataset_op.cc); tfimpl/data.py is tf.data itself, and tests/test_data.py runs the same chains
through both, element by element. ``shuffle`` draws from NumPy, not TF's Philox stream: the
two sides share its buffer algorithm and its properties, not its orders.

Elements are NumPy values: an array or a NumPy scalar, or a tuple or dict of them (lists are
arrays, as for tf.nest). Python numbers become int32 / float32, as tf.convert_to_tensor makes them.

TF1, queues (the book's 7.3)                        tf.data (the book's 7.4, and TF2)
  tf.train.string_input_producer(files)               Dataset.from_tensor_slices(files)
  reader.read(queue); tf.parse_single_example         tf.data.TFRecordDataset(files).map(parser)
  tf.train.shuffle_batch(..., min_after_dequeue=m)     .shuffle(m).batch(batch_size)
  string_input_producer(..., num_epochs=N)            .repeat(N)
  start_queue_runners; Coordinator; sess.run(batch)   v1: make_one_shot_iterator(dataset).get_next()
                                                      in a Session until OutOfRangeError; TF2: a for loop
"""
import collections
import itertools
import os

import numpy as np

from reference import _checks as check

_END = object()


class Dataset:
    """A sequence of elements that can be iterated again and again: ``make()`` returns a fresh
    iterator, as each ``iter(dataset)`` in TF starts a new iterator (a new epoch).
    Mirrors tf.data.Dataset; each method has tf.data's name and its leading parameters."""

    def __init__(self, make):
        self._make = make

    def __iter__(self):
        return iter(self._make())

    def as_numpy_iterator(self):
        """The elements, already NumPy values."""
        return iter(self)

    @staticmethod
    def from_tensor_slices(tensors):
        """Element i is tensors[i], component by component: each component is cut along its
        first axis, whose length n every component shares."""
        tensors = _map(_tensor, tensors)
        parts = _leaves(tensors)
        for k, part in enumerate(parts):
            check.rank_at_least(part, 1, f"tensors[{k}]")
            check.dims_match(parts[0], 0, part, 0, "tensors[0]", f"tensors[{k}]")
        return Dataset(lambda: (_map(lambda t: t[i], tensors) for i in range(len(parts[0]))))

    @staticmethod
    def from_tensors(tensors):
        """One element: ``tensors`` whole."""
        tensors = _map(_tensor, tensors)
        return Dataset(lambda: iter([tensors]))

    @staticmethod
    def range(*args, **kwargs):
        """start, start + step, ... below stop, as Python's range; int64 unless output_type says."""
        dtype = kwargs.get("output_type", np.int64)
        return Dataset(lambda: iter(np.arange(*args, dtype=getattr(dtype, "as_numpy_dtype", dtype))))

    @staticmethod
    def zip(*args, datasets=None):
        """Element i is the datasets' elements i, in the structure (tuple or dict) of the
        datasets; it ends with the shortest."""
        if datasets is None:
            datasets = args[0] if len(args) == 1 else args

        def make():
            iterators = _map(iter, datasets)
            while True:
                items = [next(it, _END) for it in _leaves(iterators)]
                if any(x is _END for x in items):
                    return
                yield _pack(iterators, items)
        return Dataset(make)

    def map(self, map_func):
        """Element e becomes map_func(*e) when e is a tuple, map_func(e) otherwise."""
        return Dataset(lambda: (_map(_tensor, _apply(map_func, e)) for e in self))

    def batch(self, batch_size, drop_remainder=False):
        """Consecutive runs of batch_size elements, stacked component by component along a
        new first axis; the last batch has the n % batch_size left over, or is dropped."""
        check.positive(batch_size=batch_size)
        return Dataset(lambda: (_map(lambda *parts: np.stack(parts), *chunk)
                                for chunk in _chunks(self, batch_size, drop_remainder)))

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False):
        """batch for elements of different shapes: each component is padded at the end of
        each axis with padding_values (default 0) to padded_shapes, whose None (or -1) axes
        take the batch's longest; padded_shapes None pads every axis to the batch's longest."""
        check.positive(batch_size=batch_size)

        def pad(chunk):
            shapes = _map(lambda _: None, chunk[0]) if padded_shapes is None else padded_shapes
            values = (padding_values if isinstance(padding_values, (tuple, dict))
                      else _map(lambda _: padding_values, chunk[0]))
            return _map(lambda *a: _pad_stack(a[:-2], a[-2], a[-1]), *chunk, shapes, values)
        return Dataset(lambda: (pad(chunk) for chunk in _chunks(self, batch_size, drop_remainder)))

    def repeat(self, count=None):
        """The elements ``count`` times over, each pass a fresh iteration; None or a negative
        count: forever (but a pass that yields nothing ends it, as TF's ForeverIterator)."""
        def make():
            for _ in (itertools.count() if count is None or count < 0 else range(count)):
                empty = True
                for e in self:
                    empty = False
                    yield e
                if empty:
                    return
        return Dataset(make)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Fill a buffer with the first buffer_size elements; then yield one of the buffer's
        elements picked uniformly at random and put the next input element in its place, until
        the input ends and the buffer drains. So output k is one of the first buffer_size + k
        inputs, buffer_size 1 is the identity and buffer_size >= n a uniform permutation.
        Each iteration (each epoch) draws its order from a generator spawned from ``seed``;
        reshuffle_each_iteration=False reuses one order."""
        check.positive(buffer_size=buffer_size)
        seeds = np.random.SeedSequence(seed)

        def make():
            rng = np.random.default_rng(seeds.spawn(1)[0] if reshuffle_each_iteration else seeds)
            inputs = iter(self)
            buffer = list(itertools.islice(inputs, buffer_size))
            while buffer:
                i = rng.integers(len(buffer))
                yield buffer[i]
                following = next(inputs, _END)
                if following is _END:
                    buffer.pop(i)
                else:
                    buffer[i] = following
        return Dataset(make)

    def take(self, count):
        """The first ``count`` elements; a negative count: all of them."""
        return Dataset(lambda: itertools.islice(self, None if count < 0 else count))

    def skip(self, count):
        """The elements after the first ``count``; a negative count skips them all."""
        def make():
            inputs = iter(self)
            collections.deque(itertools.islice(inputs, None if count < 0 else count), maxlen=0)
            yield from inputs
        return Dataset(make)

    def interleave(self, map_func, cycle_length=None, block_length=None):
        """Round robin over the datasets map_func(e) of cycle_length input elements at a time,
        block_length elements from each in turn; a dataset that runs out hands its place in
        the cycle to the next input element's. cycle_length None: the number of schedulable
        CPUs (TF's AUTOTUNE, port::MaxParallelism()); block_length None: 1."""
        cycle = _schedulable_cpus() if cycle_length is None else cycle_length
        block = 1 if block_length is None else block_length
        check.positive(cycle_length=cycle, block_length=block)

        def make():  # InterleaveDatasetOp's GetNextInternal, slot by slot
            inputs, slots, i, produced, open_, ended = iter(self), [None] * cycle, 0, 0, 0, False
            while not ended or open_:
                if slots[i] is not None:
                    x = next(slots[i], _END)
                    if x is not _END:
                        produced += 1
                        if produced == block:
                            i, produced = (i + 1) % cycle, 0
                        yield x
                        continue
                    slots[i], open_ = None, open_ - 1
                    i, produced = (i + 1) % cycle, 0
                elif not ended:
                    e = next(inputs, _END)
                    if e is _END:
                        ended = True
                    else:
                        slots[i], open_ = iter(_apply(map_func, e)), open_ + 1
                else:
                    i, produced = (i + 1) % cycle, 0
        return Dataset(make)

    def prefetch(self, buffer_size):
        """The same elements in the same order, the producer running buffer_size elements
        ahead of the consumer (TF runs it in a background thread; AUTOTUNE = -1 tunes the depth)."""
        def make():
            inputs = iter(self)
            ahead = collections.deque(itertools.islice(inputs, buffer_size if buffer_size >= 0 else 1))
            while ahead:
                ahead.extend(itertools.islice(inputs, 1))
                yield ahead.popleft()
            yield from inputs
        return Dataset(make)


# --- the book's pipelines -------------------------------------------------------------

def squares(input_data):
    """The book's first dataset (7.4.1): y = x * x for each x of from_tensor_slices(input_data)."""
    return [x * x for x in Dataset.from_tensor_slices(input_data)]


def squares_v1(input_data):
    """The same values; mirrors make_one_shot_iterator(dataset).get_next() run in a Session."""
    return squares(input_data)


def input_pipeline(images, labels, batch_size, buffer_size, epochs, seed=None):
    """The book's input pipeline (7.4.3) on arrays: from_tensor_slices((images, labels)), map
    each image to float32 image / 255, shuffle(buffer_size), batch(batch_size), repeat(epochs)."""
    dataset = Dataset.from_tensor_slices((images, labels))
    dataset = dataset.map(_scale)
    dataset = dataset.shuffle(buffer_size, seed=seed).batch(batch_size)
    return dataset.repeat(epochs)


def input_pipeline_v1(images, labels, batch_size, buffer_size, epochs, seed=None):
    """Its batches, as a list; mirrors make_initializable_iterator read in a Session until
    OutOfRangeError."""
    return list(input_pipeline(images, labels, batch_size, buffer_size, epochs, seed))


def _scale(image, label):
    return image.astype(np.float32) / np.float32(255), label


# --- elements: tuples and dicts of NumPy values -----------------------------------------

def _map(fn, *structures):
    """fn leaf by leaf over structures shaped like the first (tuples and dicts nest, as tf.nest)."""
    first = structures[0]
    if type(first) is tuple:
        return tuple(_map(fn, *parts) for parts in zip(*structures))
    if isinstance(first, dict):
        return {k: _map(fn, *(s[k] for s in structures)) for k in first}
    return fn(*structures)


def _leaves(structure):
    out = []
    _map(out.append, structure)
    return out


def _pack(structure, leaves):
    """``leaves`` (in _leaves order) put back into ``structure``."""
    leaves = iter(leaves)
    return _map(lambda _: next(leaves), structure)


def _tensor(value):
    """A component as tf.convert_to_tensor makes it: NumPy values keep their dtype; Python
    numbers and lists become int32 (int64 where a value does not fit) or float32."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value
    a = np.asarray(value)
    if a.dtype == np.float64:
        return a.astype(np.float32)
    if a.dtype == np.int64 and np.all(np.abs(a) <= np.iinfo(np.int32).max):
        return a.astype(np.int32)
    return a


def _apply(fn, element):
    return fn(*element) if type(element) is tuple else fn(element)


def _chunks(dataset, size, drop_remainder):
    inputs = iter(dataset)
    while chunk := list(itertools.islice(inputs, size)):
        if len(chunk) == size or not drop_remainder:
            yield chunk


def _pad_stack(parts, shape, value):
    """``parts`` stacked along a new first axis, each padded at the end of every axis to
    ``shape`` (its None / -1 axes: the longest part's), with ``value`` (None: 0 of the parts' dtype)."""
    parts = [np.asarray(p) for p in parts]
    longest = [max(p.shape[k] for p in parts) for k in range(parts[0].ndim)]
    shape = longest if shape is None else [m if s is None or s == -1 else int(s) for s, m in zip(shape, longest)]
    if any(m > s for s, m in zip(shape, longest)):
        raise ValueError(f"padded_shapes {tuple(shape)} is smaller than a component of shape {tuple(longest)}")
    value = np.zeros((), parts[0].dtype) if value is None else _tensor(value)
    if value.dtype != parts[0].dtype:  # as TF: a Python -1 is int32, no padding for int64
        raise TypeError(f"padding_values dtype {value.dtype} does not match the component's dtype {parts[0].dtype}")
    out = np.full([len(parts), *shape], value, dtype=parts[0].dtype)
    for j, p in enumerate(parts):
        out[(j, *(slice(0, n) for n in p.shape))] = p
    return out


def _schedulable_cpus():
    """port::NumSchedulableCPUs(): the CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
