"""tf.data itself, beside reference/data.py's generators: ``Dataset`` here is tf.data.Dataset,
so a chain written against reference.data.Dataset runs here unchanged, and the book's
pipelines below are the real API as a reader calls it.

TF1, queues (the book's 7.3)                        tf.data (the book's 7.4, and TF2)
  tf.train.string_input_producer(files)               Dataset.from_tensor_slices(files)
  reader.read(queue); tf.parse_single_example         tf.data.TFRecordDataset(files).map(parser)
  tf.train.shuffle_batch(..., min_after_dequeue=m)     .shuffle(m).batch(batch_size)
  string_input_producer(..., num_epochs=N)            .repeat(N)
  start_queue_runners; Coordinator; sess.run(batch)   v1: make_one_shot_iterator(dataset).get_next()
                                                      in a Session until OutOfRangeError; TF2: a for loop

The book writes ``dataset.make_one_shot_iterator()``, a method of TF1's Dataset; TF2's
tf.data.Dataset has no such method, and the TF1 form is the function
``tf.compat.v1.data.make_one_shot_iterator(dataset)`` (``make_initializable_iterator`` alike),
used in a graph (``squares_v1``, ``input_pipeline_v1``). In TF2 a dataset is a Python iterable.
"""
import numpy as np
import tensorflow as tf

Dataset = tf.data.Dataset


# --- the book's pipelines -------------------------------------------------------------

def squares(input_data):
    """The book's first dataset (7.4.1), the TF2 way: iterate the dataset, y = x * x."""
    return [(x * x).numpy() for x in Dataset.from_tensor_slices(input_data)]


def squares_v1(input_data):
    """The book's first dataset (7.4.1) as it writes it, in a graph::

        dataset = tf.data.Dataset.from_tensor_slices(input_data)
        iterator = dataset.make_one_shot_iterator()  # TF2: tf.compat.v1.data.make_one_shot_iterator(dataset)
        x = iterator.get_next()
        y = x * x
        with tf.Session() as sess:
            for i in range(len(input_data)):
                print(sess.run(y))
    """
    graph = tf.Graph()
    with graph.as_default():
        dataset = Dataset.from_tensor_slices(input_data)
        iterator = tf.compat.v1.data.make_one_shot_iterator(dataset)
        x = iterator.get_next()
        y = x * x
    with tf.compat.v1.Session(graph=graph) as sess:
        return [sess.run(y) for _ in range(len(input_data))]


def input_pipeline(images, labels, batch_size, buffer_size, epochs, seed=None):
    """The book's input pipeline (7.4.3) on arrays: from_tensor_slices((images, labels)), map
    each image to float32 image / 255, shuffle(buffer_size), batch(batch_size), repeat(epochs).
    A tf.data.Dataset: iterate it (TF2), or read it in a Session (``input_pipeline_v1``)."""
    dataset = Dataset.from_tensor_slices((images, labels))
    dataset = dataset.map(_scale)
    dataset = dataset.shuffle(buffer_size, seed=seed).batch(batch_size)
    return dataset.repeat(epochs)


def input_pipeline_v1(images, labels, batch_size, buffer_size, epochs, seed=None):
    """The book's TF1 loop (7.4.3): the same chain built in a graph on placeholders,
    ``iterator = tf.compat.v1.data.make_initializable_iterator(dataset)``,
    ``image_batch, label_batch = iterator.get_next()``, then in a Session
    ``sess.run(iterator.initializer, feed_dict=...)`` and ``sess.run([image_batch, label_batch])``
    until OutOfRangeError. Returns the batches read, as (images, labels) NumPy pairs."""
    images, labels = np.asarray(images), np.asarray(labels)
    graph = tf.Graph()
    with graph.as_default():
        image_input = tf.compat.v1.placeholder(images.dtype, [None, *images.shape[1:]])
        label_input = tf.compat.v1.placeholder(labels.dtype, [None, *labels.shape[1:]])
        dataset = input_pipeline(image_input, label_input, batch_size, buffer_size, epochs, seed)
        iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
        image_batch, label_batch = iterator.get_next()
    batches = []
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(iterator.initializer, feed_dict={image_input: images, label_input: labels})
        while True:
            try:
                batches.append(tuple(sess.run([image_batch, label_batch])))
            except tf.errors.OutOfRangeError:
                return batches


def _scale(image, label):
    return tf.cast(image, tf.float32) / 255.0, label
