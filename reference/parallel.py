"""Synchronous data parallelism (the book's 12.3 [1st ed.: 10.3]): split the batch, one gradient
per replica, combine them, one update. The network and its gradient are reference/nn.py's.

The book's multi-GPU program as printed does not split anything: it calls get_input() once and
gives the same batch to every tower, so the towers' gradients are equal and the step is a
one-device step on one batch (book_multi_gpu_v1). Two ways to combine sliced towers, and when they
equal the full-batch step:

    the book's towers (TF1)   each tower minimises the MEAN loss of its slice; average_gradients
                              takes the mean of the tower gradients:
                                  g = 1/R * sum_k grad(mean_k)
                              = the full-batch gradient exactly when the R slices are equal-sized;
                              with unequal slices a row of a short slice weighs more.
    tf.distribute (TF2)       each replica sums its per-example losses and divides by the GLOBAL
                              batch N (tf.nn.compute_average_loss); the optimizer all-reduces the
                              replica gradients with SUM:
                                  g = sum_k (n_k / N) * grad(mean_k) = grad(mean over all N rows)
                              for any split, equal or not.

A multi-worker cluster is the same step with one replica per worker: the result depends on the
cluster only through its number of replicas.
"""
import numpy as np

from reference import _checks as check
from reference import nn


def split_batch(x, replicas):
    """Consecutive slices of ceil(N / R) rows each until the rows run out, N = len(x), R = replicas:
    5 rows over 2 replicas: 3 and 2; over 4: 2, 2, 1 and 0 (not np.array_split's 2, 1, 1, 1).
    Mirrors how tf.distribute's experimental_distribute_dataset splits a global batch of N."""
    check.positive(replicas=replicas)
    x = np.asarray(x)
    size = -(-len(x) // replicas)
    return [x[k * size:(k + 1) * size] for k in range(replicas)]


def tower_gradients(x, labels, params, replicas, activation="relu"):
    """The book's towers: tower k's [(dw, db) per layer] of the MEAN softmax cross-entropy of its
    own slice, nn.mlp_gradients(x_k, labels_k, params)[1]. One list per tower."""
    return [nn.mlp_gradients(xk, yk, params, activation)[1]
            for xk, yk in zip(split_batch(x, replicas), split_batch(labels, replicas))]


def average_gradients(tower_grads):
    """The book's average_gradients: for each variable, the mean of the towers' gradients,
    1/R * sum_k g_k. ``tower_grads``: one [(dw, db) per layer] list per tower."""
    return [tuple(np.mean([np.asarray(t[layer][i], np.float64) for t in tower_grads], axis=0) for i in range(2))
            for layer in range(len(tower_grads[0]))]


def replica_gradients(x, labels, params, replicas, activation="relu"):
    """tf.distribute's replicas: replica k's gradient of sum(per-example losses of its slice) / N,
    N the global batch (tf.nn.compute_average_loss), which is (n_k / N) * tower k's gradient.
    Returns (per_replica, all_reduced): per_replica[k] is replica k's [(dw, db) per layer];
    all_reduced[k] is what replica k holds after the all-reduce: the SUM over replicas, the same
    on every replica."""
    n = len(np.asarray(x))
    slices = split_batch(x, replicas)
    per_replica = [[tuple(len(xk) / n * np.asarray(g, np.float64) for g in pair) for pair in grads]
                   for xk, grads in zip(slices, tower_gradients(x, labels, params, replicas, activation))]
    total = [tuple(sum(r[layer][i] for r in per_replica) for i in range(2)) for layer in range(len(params))]
    return per_replica, [total] * replicas


def data_parallel_step(x, labels, params, learning_rate, replicas, activation="relu"):
    """One synchronous step the tf.distribute way: params - lr * (sum of the replica gradients).
    Equals nn.gradient_descent_step on the whole batch for any split. Mirrors a custom training
    step under tf.distribute.MirroredStrategy (strategy.run; keras SGD all-reduces with SUM)."""
    check.positive(learning_rate=learning_rate)
    return nn.gradient_descent_step(params, replica_gradients(x, labels, params, replicas, activation)[1][0],
                                    learning_rate)


def data_parallel_step_v1(x, labels, params, learning_rate, replicas, activation="relu"):
    """One synchronous step with the book's towers and average_gradients, each tower given its own
    slice of the batch (the corrected program: the book gives every tower the same batch, see
    book_multi_gpu_v1): params - lr * average_gradients(tower gradients). Equals the full-batch
    step only when every tower's slice has the same number of rows. Mirrors the TF1 towers (one
    tf.device('/cpu:k') per tower) run in a Session."""
    check.positive(learning_rate=learning_rate)
    return nn.gradient_descent_step(params, average_gradients(tower_gradients(x, labels, params, replicas, activation)),
                                    learning_rate)


def book_multi_gpu_v1(x, labels, params, learning_rate, replicas, batch_size, steps, activation="relu"):
    """The book's multi-GPU program as printed (1.4.0/Chapter12/2. 多GPU并行.py; 0.12.1/Chapter10):
    x, y_ = get_input() once (line 103), then every one of the ``replicas`` towers computes the
    gradient of the mean loss on that same x, y_ (lines 115-124), average_gradients, one
    apply_gradients. Each step reads the next batch of ``batch_size`` rows of x (the last one
    shorter if the rows run out), whatever ``replicas`` is. The towers' gradients are
    all the batch's gradient, their average is it, and the step is nn.gradient_descent_step on one
    batch. Returns (params after ``steps`` steps, the last step's tower gradients: one
    [(dw, db) per layer] list per tower)."""
    check.positive(learning_rate=learning_rate, replicas=replicas, batch_size=batch_size, steps=steps)
    x, labels = np.asarray(x), np.asarray(labels)
    if steps > -(-len(x) // batch_size):
        raise ValueError(f"{len(x)} rows make {-(-len(x) // batch_size)} batches of {batch_size}: step "
                         f"{-(-len(x) // batch_size) + 1} reads past the end (TF: OutOfRangeError)")
    for k in range(steps):
        rows = slice(k * batch_size, (k + 1) * batch_size)
        towers = [nn.mlp_gradients(x[rows], labels[rows], params, activation)[1] for _ in range(replicas)]
        params = nn.gradient_descent_step(params, average_gradients(towers), learning_rate)
    return params, towers


def keras_fit_step(x, labels, params, learning_rate, replicas, activation="relu"):
    """One Keras model.fit step (one epoch, batch_size = len(x)) under MirroredStrategy over
    ``replicas`` devices: the tf.distribute step, data_parallel_step."""
    return data_parallel_step(x, labels, params, learning_rate, replicas, activation)


def multi_worker_step(x, labels, params, learning_rate, tf_config, activation="relu"):
    """One synchronous step of a MultiWorkerMirroredStrategy cluster described by ``tf_config``
    (TF_CONFIG: {"cluster": {"worker": [host:port, ...]}, "task": {"type": "worker", "index": i}}),
    one replica per worker: data_parallel_step with replicas = the number of workers. Every
    worker ends with these same weights, whatever its task index."""
    return data_parallel_step(x, labels, params, learning_rate, len(tf_config["cluster"]["worker"]), activation)
