"""Synchronous data parallelism (the book's 12.3 [1st ed.: 10.3]) on TensorFlow's own engine,
tf.distribute.

The book (TF1) builds one tower per device by hand and averages the towers' gradients:

    x, y_ = get_input()                             # once: one batch per sess.run
    for i in range(N_GPU):
        with tf.device('/gpu:%d' % i), tf.name_scope('GPU_%d' % i) as scope:
            cur_loss = get_loss(x, y_, regularizer, scope, reuse_variables)
            tower_grads.append(opt.compute_gradients(cur_loss))
    grads = average_gradients(tower_grads)          # mean over towers, per variable
    apply_gradient_op = opt.apply_gradients(grads, global_step=global_step)
    sess = tf.Session(config=tf.ConfigProto(allow_soft_placement=True))

As printed, every tower reads the same x, y_: N towers compute one batch's gradient N times, the
step is a one-device step on one batch, and the program's examples/sec (BATCH_SIZE * N_GPU /
duration) is N times too high (``book_multi_gpu_v1``). Each tower needs its own slice of the batch
(``data_parallel_step_v1``, the corrected program) or its own get_next().

TF2 hands the towers to a strategy: the same step function runs once per replica, each on its
slice of the global batch, and the optimizer all-reduces (SUMs) the replica gradients:

    strategy = tf.distribute.MirroredStrategy()             # every local GPU (or named devices)
    with strategy.scope():
        model, opt = ..., keras.optimizers.SGD(lr)          # variables mirrored on every replica
    @tf.function
    def train_step(dist_batch):
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(per_example_loss(x, y), global_batch_size=N)
            opt.apply_gradients(zip(tape.gradient(loss, vars), vars))   # all-reduce SUM, then update
        strategy.run(step, args=dist_batch)
    for dist_batch in strategy.experimental_distribute_dataset(dataset.batch(N)): train_step(dist_batch)

and several machines are the same code with tf.distribute.MultiWorkerMirroredStrategy and a
TF_CONFIG per process (multi_worker_step below).

Replicas need devices. On one CPU, split it into logical devices before TensorFlow initialises
(before the first op):

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

The functions below use the first ``replicas`` logical GPUs when there are that many, else the
first ``replicas`` logical CPUs, and name the set-up call when there are too few. The TF1 towers
(``data_parallel_step_v1``) get their devices from the Session: ConfigProto(device_count={"CPU": R}).
"""
import functools
import json
import os

import numpy as np
import tensorflow as tf

from tfimpl import _checks as check
from tfimpl import nn


def _devices(replicas):
    """The first ``replicas`` logical GPUs if there are that many, else the first ``replicas`` CPUs."""
    check.positive(replicas=replicas)
    for kind in ("GPU", "CPU"):
        found = tf.config.list_logical_devices(kind)
        if len(found) >= replicas:
            return [d.name for d in found[:replicas]]
    raise ValueError(
        f"{replicas} replicas need {replicas} logical devices; TensorFlow has {len(found)} CPU device(s) and no "
        f"{replicas} GPUs. Before TensorFlow initialises, call tf.config.set_logical_device_configuration("
        f"tf.config.list_physical_devices('CPU')[0], [tf.config.LogicalDeviceConfiguration()] * {replicas})")


def _mirrored(replicas):
    """tf.distribute.MirroredStrategy over ``replicas`` local devices (see _devices)."""
    return _mirrored_on(tuple(_devices(replicas)))


@functools.lru_cache(maxsize=None)
def _mirrored_on(devices):
    """One MirroredStrategy per device set and process, as a program makes one. On CPUs it
    all-reduces with collective ops, and every MirroredStrategy numbers its collective groups from
    1 + MirroredStrategy._collective_key_base (0): a second strategy over another device set reuses
    the first one's group keys and its collectives abort (TF 2.21: "Device ... is joining a group
    with size 4, but that group has size 2 (group_key=1)", or a step "cancelled before it was
    started"; tensorflow/tensorflow#62790). So each strategy made here gets its own key range, as
    TF's own tests do (tensorflow/python/distribute/strategy_combinations.py)."""
    tf.distribute.MirroredStrategy._collective_key_base += 100_000
    return tf.distribute.MirroredStrategy(list(devices))


def split_batch(x, replicas):
    """The per-replica batches tf.distribute makes of a global batch: a dataset of one batch of
    len(x) rows through MirroredStrategy.experimental_distribute_dataset; the replicas' local
    tensors, in replica order (each on its own device)."""
    strategy = _mirrored(replicas)
    x = tf.convert_to_tensor(x)
    batch = tf.data.Dataset.from_tensor_slices(x).batch(max(int(x.shape[0]), 1))
    return list(strategy.experimental_local_results(next(iter(strategy.experimental_distribute_dataset(batch)))))


def _distribute(strategy, *arrays):
    """Each array as a PerReplica value: replica k's slice is split_batch's k-th (a slice of
    ceil(N / R) rows), placed by experimental_distribute_values_from_function. Used where the
    split must not depend on dataset auto-sharding (MultiWorkerMirroredStrategy)."""
    def slices(a):
        a = np.asarray(a)
        size = -(-len(a) // strategy.num_replicas_in_sync)
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(a[ctx.replica_id_in_sync_group * size:(ctx.replica_id_in_sync_group + 1) * size]))
    return [slices(a) for a in arrays]


def _variables(strategy, params):
    with strategy.scope():
        return [(tf.Variable(w), tf.Variable(b)) for w, b in params]


def tower_gradients(x, labels, params, replicas, activation="relu"):
    """The book's towers on a MirroredStrategy: each replica's [(dw, db) per layer] of the MEAN
    softmax cross-entropy of its own slice (nn.mlp_gradients), not reduced: one list per replica."""
    check.pairs(params, "params")
    strategy = _mirrored(replicas)
    variables = _variables(strategy, params)
    xs, ys = _distribute(strategy, x, labels)

    def tower(xb, yb):
        return [tuple(pair) for pair in nn.mlp_gradients(xb, yb, variables, activation)[1]]
    return _local(strategy, tf.function(lambda xs, ys: strategy.run(tower, args=(xs, ys)))(xs, ys))


def _local(strategy, per_replica):
    """A structure of PerReplica values as one structure per replica (its local results)."""
    flat = [strategy.experimental_local_results(v) for v in tf.nest.flatten(per_replica)]
    return [tf.nest.pack_sequence_as(per_replica, [f[k] for f in flat]) for k in range(strategy.num_replicas_in_sync)]


def average_gradients(tower_grads):
    """The book's average_gradients: per variable, stack the towers' gradients on a new axis 0
    (tf.expand_dims, tf.concat) and take tf.reduce_mean over it. ``tower_grads``: one
    [(dw, db) per layer] list per tower (the book's lists of (gradient, variable) pairs, minus
    the variables)."""
    return [tuple(tf.reduce_mean(tf.concat([tf.expand_dims(t[layer][i], 0) for t in tower_grads], 0), 0)
                  for i in range(2)) for layer in range(len(tower_grads[0]))]


def replica_gradients(x, labels, params, replicas, activation="relu"):
    """(per_replica, all_reduced) on a MirroredStrategy: replica k's gradient of
    tf.nn.compute_average_loss(per-example losses, global_batch_size=N) on its slice, and what it
    holds after tf.distribute.get_replica_context().all_reduce(SUM, ...), the all-reduce the
    Keras optimizer runs inside apply_gradients. Both: one [(dw, db) per layer] list per replica."""
    check.pairs(params, "params")
    strategy = _mirrored(replicas)
    variables = _variables(strategy, params)
    flat = [v for pair in variables for v in pair]
    n = len(np.asarray(x))
    xs, ys = _distribute(strategy, x, labels)

    def replica(xb, yb):
        with tf.GradientTape() as tape:
            loss = _global_batch_loss(xb, yb, variables, n, activation)
        grads = tape.gradient(loss, flat)
        reduced = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
        return _pairs(grads), _pairs(reduced)
    run = tf.function(lambda xs, ys: strategy.run(replica, args=(xs, ys)))
    per_replica, all_reduced = zip(*_local(strategy, run(xs, ys)))
    return list(per_replica), list(all_reduced)


def _pairs(flat):
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def _global_batch_loss(xb, yb, variables, global_batch, activation):
    """sum of this replica's per-example softmax cross-entropies / the global batch size."""
    per_example = tf.nn.softmax_cross_entropy_with_logits(labels=yb, logits=nn.mlp_forward(xb, variables, activation))
    return tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)


def _train_step(strategy, x, labels, params, learning_rate, activation="relu"):
    """(train_step, variables): the TF2 loop of the module docstring on ``strategy`` (the default
    strategy, tf.distribute.get_strategy(), is one device): variables and keras SGD created in its
    scope; each train_step() call runs the step function once per replica inside a tf.function."""
    import keras
    check.pairs(params, "params")
    learning_rate = nn._learning_rate(learning_rate)
    with strategy.scope():
        variables = [(tf.Variable(w), tf.Variable(b)) for w, b in params]
        opt = keras.optimizers.SGD(learning_rate)
    flat = [v for pair in variables for v in pair]
    n = len(np.asarray(x))
    xs, ys = _distribute(strategy, x, labels)

    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = _global_batch_loss(xb, yb, variables, n, activation)
        opt.apply_gradients(zip(tape.gradient(loss, flat), flat))  # all-reduce (SUM), then w -= lr * g

    @tf.function
    def train_step(xs, ys):
        strategy.run(step, args=(xs, ys))
    return (lambda: train_step(xs, ys)), variables


def _synchronous_step(strategy, x, labels, params, learning_rate, activation):
    """One train_step of _train_step; returns the new [(w, b)], read from the (mirrored) variables."""
    train_step, variables = _train_step(strategy, x, labels, params, learning_rate, activation)
    train_step()
    return [(w.numpy(), b.numpy()) for w, b in variables]


def data_parallel_step(x, labels, params, learning_rate, replicas, activation="relu"):
    """One synchronous step on a MirroredStrategy over ``replicas`` local devices: the TF2 loop of
    the module docstring (compute_average_loss over the global batch, keras SGD all-reducing the
    replica gradients with SUM). Returns the new [(w, b)], read from the mirrored variables."""
    return _synchronous_step(_mirrored(replicas), x, labels, params, learning_rate, activation)


def data_parallel_step_v1(x, labels, params, learning_rate, replicas, activation="relu"):
    """The book's towers in a TF1 Session, each given its own slice of the batch (the corrected
    program: the book gives every tower the same batch, book_multi_gpu_v1): tower k under
    tf.device('/cpu:k') computes its slice's mean loss and GradientDescentOptimizer.compute_gradients;
    average_gradients; one apply_gradients. The Session gets ``replicas`` CPU devices from
    ConfigProto(device_count={'CPU': replicas}) (without it, soft placement runs every tower on
    /cpu:0; with allow_soft_placement=False the graph is rejected). Returns the new [(w, b)]."""
    check.pairs(params, "params")
    check.positive(learning_rate=learning_rate, replicas=replicas)
    x, labels = np.asarray(x), np.asarray(labels)
    size = -(-len(x) // replicas)
    graph = tf.Graph()
    with graph.as_default():
        variables = [(tf.compat.v1.Variable(w), tf.compat.v1.Variable(b)) for w, b in params]
        opt = tf.compat.v1.train.GradientDescentOptimizer(learning_rate)
        tower_grads = []
        for k in range(replicas):
            with tf.device(f"/cpu:{k}"), tf.compat.v1.name_scope(f"tower_{k}"):
                xk, yk = x[k * size:(k + 1) * size], labels[k * size:(k + 1) * size]
                loss = nn.softmax_cross_entropy(yk, nn.mlp_forward(xk, variables, activation))
                grads_and_vars = opt.compute_gradients(loss, [v for pair in variables for v in pair])
                tower_grads.append(_pairs([g for g, _ in grads_and_vars]))
        averaged = [g for pair in average_gradients(tower_grads) for g in pair]
        train_op = opt.apply_gradients(zip(averaged, [v for pair in variables for v in pair]))
        init = tf.compat.v1.global_variables_initializer()
    config = tf.compat.v1.ConfigProto(device_count={"CPU": replicas}, allow_soft_placement=False)
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        sess.run(init)
        sess.run(train_op)
        return sess.run(variables)


def book_multi_gpu_v1(x, labels, params, learning_rate, replicas, batch_size, steps, activation="relu"):
    """The book's multi-GPU program as printed (1.4.0/Chapter12/2. 多GPU并行.py; 0.12.1/Chapter10),
    on ``replicas`` CPU devices: get_input() reads the rows through a tf.data one-shot iterator in
    batches of ``batch_size`` and is called once (line 103); under tf.device('/cpu:k') and
    name_scope('GPU_k') every tower computes its mean loss on that same x, y_ and
    compute_gradients (lines 115-124); average_gradients; one apply_gradients (line 133). Each
    sess.run of the train op reads one batch. Returns (params after ``steps`` runs, the last run's
    tower gradients: one [(dw, db) per layer] list per tower). More steps than batches: the
    iterator's OutOfRangeError, as the book's loop would meet it."""
    check.pairs(params, "params")
    check.positive(learning_rate=learning_rate, replicas=replicas, batch_size=batch_size, steps=steps)
    x, labels = np.asarray(x), np.asarray(labels)
    graph = tf.Graph()
    with graph.as_default():
        dataset = tf.data.Dataset.from_tensor_slices((x, labels)).batch(batch_size)
        batch_x, batch_y = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()  # get_input(), once
        variables = [(tf.compat.v1.Variable(w), tf.compat.v1.Variable(b)) for w, b in params]
        flat = [v for pair in variables for v in pair]
        opt = tf.compat.v1.train.GradientDescentOptimizer(learning_rate)
        tower_grads = []
        for k in range(replicas):
            with tf.device(f"/cpu:{k}"), tf.compat.v1.name_scope(f"GPU_{k}"):
                loss = nn.softmax_cross_entropy(batch_y, nn.mlp_forward(batch_x, variables, activation))
                tower_grads.append(_pairs([g for g, _ in opt.compute_gradients(loss, flat)]))
        averaged = [g for pair in average_gradients(tower_grads) for g in pair]
        train_op = opt.apply_gradients(zip(averaged, flat))
        init = tf.compat.v1.global_variables_initializer()
    config = tf.compat.v1.ConfigProto(device_count={"CPU": replicas}, allow_soft_placement=False)
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        sess.run(init)
        for _ in range(steps):
            _, towers = sess.run([train_op, tower_grads])  # the gradients this run's update used
        return sess.run(variables), towers


def keras_fit_step(x, labels, params, learning_rate, replicas, activation="relu"):
    """One keras Model.fit step under MirroredStrategy.scope(): Dense layers holding ``params``,
    SGD(learning_rate), CategoricalCrossentropy(from_logits=True, dtype=x's dtype) (a Keras loss
    object computes in floatx, float32, unless given a dtype), fit on a tf.data.Dataset of one
    batch of len(x) rows. Keras distributes the batch over the replicas and all-reduces the
    gradients itself. Returns the new [(w, b)].

    Keras 3.15 needs the first batch to split evenly: before the first step, fit reduces the
    first distributed batch with MEAN over the replicas (trainer._maybe_symbolic_build), which
    fails on per-replica batches of different sizes (InvalidArgumentError from AddN)."""
    import keras
    check.pairs(params, "params")
    learning_rate = nn._learning_rate(learning_rate)
    x, labels = np.asarray(x), np.asarray(labels)
    strategy = _mirrored(replicas)
    with strategy.scope():
        layers = [keras.layers.Dense(np.shape(w)[1], activation=activation if k < len(params) - 1 else None,
                                     dtype=x.dtype.name) for k, (w, _) in enumerate(params)]
        model = keras.Sequential([keras.Input((x.shape[1],), dtype=x.dtype.name)] + layers)
        for layer, (w, b) in zip(layers, params):
            layer.set_weights([w, b])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                      loss=keras.losses.CategoricalCrossentropy(from_logits=True, dtype=x.dtype.name))
    model.fit(tf.data.Dataset.from_tensor_slices((x, labels)).batch(len(x)), epochs=1, shuffle=False, verbose=0)
    return [tuple(layer.get_weights()) for layer in layers]


def multi_worker_step(x, labels, params, learning_rate, tf_config, activation="relu"):
    """One synchronous step as one worker of a tf.distribute.MultiWorkerMirroredStrategy cluster.
    Run it in every worker process, each with its own ``tf_config``

        {"cluster": {"worker": ["host0:port", "host1:port"]}, "task": {"type": "worker", "index": i}}

    (the same cluster, its own index), before that process has run any TensorFlow op: it is set as
    the TF_CONFIG environment variable, which the strategy reads when it is created; the call
    blocks until every worker has joined. Each worker holds one replica (its local CPU or GPU),
    takes its slice of the global batch (x and labels are the whole global batch on every
    worker), and the gradients are all-reduced over the network (ring all-reduce, gRPC). Returns
    this worker's new [(w, b)]. A later call with the same ``tf_config`` takes its step on the same
    strategy (see _multi_worker)."""
    return _synchronous_step(_multi_worker(json.dumps(tf_config, sort_keys=True)), x, labels, params, learning_rate,
                             activation)


@functools.lru_cache(maxsize=None)
def _multi_worker(tf_config):
    """One MultiWorkerMirroredStrategy per cluster and process, as a program makes one: TF_CONFIG
    (``tf_config``, JSON) is read when it is created. Every new strategy enables collective ops again
    in a running process (TF warns: "Enabling collective ops after program startup may cause error")
    and joins the cluster's coordination service again; with one per step, one of five loaded runs of
    tests/test_parallel.py (four steps a worker) aborted a step with "The following tasks are
    unhealthy (stopped sending heartbeats)"."""
    os.environ["TF_CONFIG"] = tf_config
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
