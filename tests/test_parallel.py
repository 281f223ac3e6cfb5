"""Synchronous data parallelism (the book's 12.2-12.4 [1st ed.: 10.2-10.4]) on TensorFlow's own
engine: the book's multi-GPU program as printed (one batch fed to every tower) and the same towers
each given a slice of the batch, both in TF1 Sessions over two CPU devices;
tf.distribute.MirroredStrategy over two (and up to four) logical CPU devices, keras Model.fit under
strategy.scope(), and MultiWorkerMirroredStrategy with two worker processes on 127.0.0.1, each
against reference/parallel.py's NumPy step, and each step of a few taken in turn against the
reference's (the trajectories at the end).

Logical devices must be configured before TensorFlow initialises, and this process's TensorFlow is
initialised long before (with the two logical CPUs of conftest.py's GPU stand-in: too few for 3 and
4 replicas, and a failed collective leaves a process's collectives aborted, "Restart your program to
reset", which must not happen to the test runner); so the MirroredStrategy checks run in one child
process (four logical CPU devices) and the cluster in two worker processes. All three start together when the first test
that needs them runs (module fixtures): about 50 s of CPU together, measured beside other test runs
(load 14 on 2 cores; 36 s before the trajectories), a third of it three TensorFlow imports (the rest of
the module: about 15 s, the TF1 towers' trajectories). A timeout bounds each, and the fixture kills and
reaps every one of them whatever happens.

Everything is float64 with learning rate 0.5 (a power of two, exact in Keras's float32 rate): the
data-parallel step and the full-batch step differ only in the order of a few <= 8-term sums."""
import json
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import reference.nn as RN
import reference.parallel as R
import tfimpl.parallel as T
from tests import trajectory
from tests.harness import assert_within

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(1013)
X = RNG.standard_normal((8, 3))
Y = np.eye(2)[RNG.integers(0, 2, 8)]
PARAMS = [(RNG.standard_normal((3, 4)) / np.sqrt(3), RNG.standard_normal(4) * 0.1),
          (RNG.standard_normal((4, 2)) / 2, RNG.standard_normal(2) * 0.1)]
LR = 0.5
EPS = np.finfo(np.float64).eps
# Weights and gradients are O(1); each side sums the same <= 8 per-row terms in another order
# (per slice, then over slices, against all rows at once), a few roundings of O(1) values.
ATOL = 16 * EPS
TIMEOUT = 360  # seconds for a child: 157 s measured beside other test runs (load 14 on 2 cores), 120 s before the trajectories


def full_batch_step(x, labels):
    """The reference: one gradient-descent step on the batch-mean loss of every row."""
    return RN.gradient_descent_step(PARAMS, RN.mlp_gradients(x, labels, PARAMS)[1], LR)


def assert_params_close(actual, expected, what, atol=ATOL):
    for layer, (a_pair, e_pair) in enumerate(zip(actual, expected)):
        for name, a, e in zip("wb", a_pair, e_pair):
            np.testing.assert_allclose(np.asarray(a), e, rtol=0, atol=atol, err_msg=f"{what}: layer {layer} {name}")


def as_arrays(pairs):
    return [tuple(np.asarray(a) for a in pair) for pair in pairs]


# --- the reference: when the averaged towers are the full-batch step -------------------------

@pytest.mark.claim("ch12.2", "in synchronous data parallelism each device computes the gradient of its own part of "
                             "the data and the averaged gradients give the same update as all of it on one device",
                   source="book")
def test_averaged_tower_gradients_equal_the_full_batch_gradient_when_the_slices_are_equal():
    """8 rows over 1, 2, 4 and 8 towers: average_gradients of the towers' mean-loss gradients is the
    gradient of the mean loss of all 8 rows (the mean of R equal-sized means is the mean)."""
    full = RN.mlp_gradients(X, Y, PARAMS)[1]
    for replicas in (1, 2, 4, 8):
        averaged = R.average_gradients(R.tower_gradients(X, Y, PARAMS, replicas))
        assert_params_close(averaged, full, f"{replicas} towers of {8 // replicas} rows")


@pytest.mark.claim("ch12.3", "porting sliced towers to tf.distribute: the average of the towers' mean-loss gradients "
                             "is the full-batch gradient only when every tower gets the same number of rows (the "
                             "mean of the means weighs a row of a short slice more); tf.distribute divides each "
                             "replica's summed loss by the global batch (tf.nn.compute_average_loss) and SUMs the "
                             "gradients, which is the full-batch gradient for any split", source="port")
def test_with_unequal_slices_the_average_of_tower_means_is_not_the_full_batch_gradient():
    """7 rows over 2 towers (4 and 3 rows): the book's average is 1/2 g_1 + 1/2 g_2 while the
    full-batch gradient is 4/7 g_1 + 3/7 g_2; the tf.distribute form sums (n_k / N) g_k and is it."""
    x, y = X[:7], Y[:7]
    towers = R.tower_gradients(x, y, PARAMS, 2)
    full = RN.mlp_gradients(x, y, PARAMS)[1]
    book = R.average_gradients(towers)
    weighted = [tuple(4 / 7 * g1 + 3 / 7 * g2 for g1, g2 in zip(t1, t2)) for t1, t2 in zip(*towers)]
    assert_params_close(weighted, full, "sum of (n_k / N) * tower gradient")
    assert_params_close(R.replica_gradients(x, y, PARAMS, 2)[1][0], full, "tf.distribute form, all-reduced")
    gap = max(np.abs(b - f).max() for bp, fp in zip(book, full) for b, f in zip(bp, fp))
    assert gap > 1e-3, f"the book's average of 4-row and 3-row tower means is within {gap:.3g} of the full batch"


def test_the_global_batch_is_cut_into_slices_of_ceil_n_over_r_rows_until_the_rows_run_out():
    """The reference's split, which the MirroredStrategy child checks against TF's: not np.array_split."""
    sizes = {(n, r): [len(s) for s in R.split_batch(np.arange(n), r)] for n, r in SPLITS}
    assert sizes == {(5, 2): [3, 2], (7, 3): [3, 3, 1], (5, 4): [2, 2, 1, 0], (8, 2): [4, 4], (1, 2): [1, 0]}
    assert [len(s) for s in np.array_split(np.arange(5), 4)] == [2, 1, 1, 1]


SPLITS = [(5, 2), (7, 3), (5, 4), (8, 2), (1, 2)]


# --- the book's multi-GPU program as printed, in this process -----------------------------------

@pytest.mark.claim("ch12.3", "in the multi-GPU program each GPU trains on its own batch: a step processes "
                             "BATCH_SIZE * N_GPU examples, and the program prints examples/sec = BATCH_SIZE * N_GPU "
                             "/ duration", source="book", edition="both", verdict="wrong",
                   code="1.4.0/Chapter12/2. 多GPU并行.py, line 103 (x, y_ = get_input(), once), lines 115-124 "
                        "(every tower: get_loss(x, y_, ...)) and line 164 (num_examples_per_step = BATCH_SIZE * "
                        "N_GPU); the same in 0.12.1/Chapter10/2. 多GPU并行.py, lines 88, 100-107 and 146",
                   correction="the program calls get_input() once and hands the same x, y_ to every tower: each "
                              "sess.run reads one batch, every tower computes the gradient of that one batch, their "
                              "average is that gradient, and the step is a one-device step on BATCH_SIZE examples. "
                              "N GPUs do the work of one, and the printed examples/sec is N times too high. Give "
                              "each tower its own slice of a batch N times larger (the corrected program, "
                              "test_tf1_towers_on_two_cpu_devices_follow_the_reference_towers) or its own "
                              "get_next()")
def test_the_books_multi_gpu_program_feeds_one_batch_to_every_tower_and_steps_as_one_device():
    """The book's program on two CPU devices, BATCH_SIZE 4, over the 8 rows of X read by a one-shot
    iterator: the two towers' gradients are bitwise the same; the step is the one-device step on the
    first 4 rows, not the step on the 8 rows two GPUs would have read; two steps read the 8 rows
    (rows 0-3, then 4-7) and a third finds the iterator empty: 4 rows a step, where the program
    counts BATCH_SIZE * N_GPU = 8."""
    batch, gpus = 4, 2
    one_step, towers = T.book_multi_gpu_v1(X, Y, PARAMS, LR, gpus, batch, steps=1)
    for layer, pairs in enumerate(zip(*towers)):
        for name, grads in zip("wb", zip(*pairs)):
            assert all(g.tobytes() == grads[0].tobytes() for g in grads), f"layer {layer} {name}: towers differ"
    assert_params_close(towers[0], RN.mlp_gradients(X[:batch], Y[:batch], PARAMS)[1], "a tower's gradient")
    assert_params_close(one_step, full_batch_step(X[:batch], Y[:batch]), "vs a one-device step on one batch")
    assert_params_close(one_step, R.book_multi_gpu_v1(X, Y, PARAMS, LR, gpus, batch, steps=1)[0], "vs the reference")
    gap = max(np.abs(a - e).max() for ap, ep in zip(one_step, full_batch_step(X[:batch * gpus], Y[:batch * gpus]))
              for a, e in zip(ap, ep))
    assert gap > LR * 1e-3, f"the step came within {gap:.3g} of the step on {batch * gpus} rows"

    two_steps, _ = T.book_multi_gpu_v1(X, Y, PARAMS, LR, gpus, batch, steps=2)
    by_hand = RN.gradient_descent_step(full_batch_step(X[:batch], Y[:batch]),
                                       RN.mlp_gradients(X[batch:], Y[batch:], full_batch_step(X[:batch], Y[:batch]))[1],
                                       LR)
    assert_params_close(two_steps, by_hand, "two steps: one-device steps on rows 0-3, then 4-7")
    with pytest.raises(tf.errors.OutOfRangeError):
        T.book_multi_gpu_v1(X, Y, PARAMS, LR, gpus, batch, steps=3)
    with pytest.raises(ValueError, match="reads past the end"):
        R.book_multi_gpu_v1(X, Y, PARAMS, LR, gpus, batch, steps=3)


# --- the corrected program: the book's TF1 towers, each given a slice, in this process -----------

@pytest.mark.parametrize("rows", [8, 7], ids=["8-rows-equal-slices", "7-rows-unequal-slices"])
def test_tf1_towers_on_two_cpu_devices_follow_the_reference_towers(rows):
    """The corrected program: data_parallel_step_v1 builds the book's towers, each given its own slice
    of the batch, under tf.device('/cpu:0') and '/cpu:1' in a Session given two CPU devices (ConfigProto(device_count={'CPU': 2}), soft placement off, so a
    tower that could not have its device would be an error). Equal slices: the full-batch step.
    Unequal ones: the reference's biased average, not the full-batch step."""
    x, y = X[:rows], Y[:rows]
    tf1 = T.data_parallel_step_v1(x, y, PARAMS, LR, 2)
    assert_params_close(tf1, R.data_parallel_step_v1(x, y, PARAMS, LR, 2), "TF1 towers vs NumPy towers")
    if rows == 8:
        assert_params_close(tf1, full_batch_step(x, y), "TF1 towers vs the full-batch step")
    else:
        gap = max(np.abs(a - e).max() for ap, ep in zip(tf1, full_batch_step(x, y)) for a, e in zip(ap, ep))
        assert gap > LR * 1e-3, f"unequal TF1 towers came within {gap:.3g} of the full-batch step"


def test_tf1_towers_run_on_their_own_cpu_devices():
    """A traced Session run of two towers (tf.device('/cpu:k')) in a Session with
    device_count={'CPU': 2}: RunMetadata's step stats put tower k's ops on CPU:k."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float64, [None, 3])
        for k in range(2):
            with tf.device(f"/cpu:{k}"), tf.compat.v1.name_scope(f"tower_{k}"):
                tf.reduce_sum(tf.matmul(x, PARAMS[0][0]), name="loss")
        losses = [graph.get_tensor_by_name(f"tower_{k}/loss:0") for k in range(2)]
    config = tf.compat.v1.ConfigProto(device_count={"CPU": 2}, allow_soft_placement=False)
    metadata = tf.compat.v1.RunMetadata()
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        sess.run(losses, {x: X}, options=tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE),
                 run_metadata=metadata)
    placed = {node.node_name: dev.device.rsplit(":", 1)[-1] for dev in metadata.step_stats.dev_stats
              for node in dev.node_stats if node.node_name.startswith("tower_")}
    assert placed.get("tower_0/loss") == "0" and placed.get("tower_1/loss") == "1", placed


@pytest.mark.claim("ch12.3", "average_gradients averages each variable's gradient over the towers (expand_dims, "
                             "concat, reduce_mean over the new axis)", source="book", edition="both",
                   code="1.4.0/Chapter12/2. 多GPU并行.py, lines 78-96")
def test_tf_average_gradients_is_the_mean_over_towers():
    """The book's average_gradients (expand_dims, concat, reduce_mean) on three towers' gradients
    against np.mean: a 3-term float64 mean, within an ulp or two."""
    towers = R.tower_gradients(X[:6], Y[:6], PARAMS, 3)
    assert_params_close(as_arrays(T.average_gradients(towers)), R.average_gradients(towers), "average_gradients",
                        atol=4 * EPS)


# --- MirroredStrategy and the cluster: child processes -------------------------------------------

MIRRORED = """
import json, sys
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 4)
import tfimpl.parallel as T
job = json.load(open(sys.argv[1]))
x, y, lr, splits = np.array(job["x"]), np.array(job["y"]), job["lr"], job["splits"]
params = [(np.array(w), np.array(b)) for w, b in job["params"]]
tolist = lambda pairs: [[np.asarray(a).tolist() for a in pair] for pair in pairs]
out = {"devices": [d.name for d in tf.config.list_logical_devices("CPU")]}
out["split"] = {f"{n}/{r}": [[len(t), t.device] for t in T.split_batch(np.arange(n, dtype=np.float64)[:, None], r)]
                for n, r in splits}
out["towers"] = [tolist(t) for t in T.tower_gradients(x, y, params, 2)]
per_replica, reduced = T.replica_gradients(x[:7], y[:7], params, 2)
out["per_replica"], out["all_reduced"] = [tolist(p) for p in per_replica], [tolist(p) for p in reduced]
out["step"] = {f"{n}/{r}": tolist(T.data_parallel_step(x[:n], y[:n], params, lr, r)) for n, r in job["steps"]}
out["keras"] = tolist(T.keras_fit_step(x, y, params, lr, 2))
try:
    T.keras_fit_step(x[:7], y[:7], params, lr, 2)
    out["keras_uneven"] = "ran"
except Exception as e:
    out["keras_uneven"] = f"{type(e).__name__}: {e}"
try:
    T.data_parallel_step(x, y, params, lr, 5)
except ValueError as e:
    out["too_many"] = str(e)
pairs = lambda listed: [tuple(np.array(a) for a in pair) for pair in listed]
out["trajectories"] = {}
for kind, n, r, act, count in job["trajectories"]:  # each step from the last one's result
    step, points = T.data_parallel_step if kind == "step" else T.keras_fit_step, [params]
    for _ in range(count):
        points.append(step(x[:n], y[:n], points[-1], lr, r, act))
    out["trajectories"][f"{kind}/{n}/{r}/{act}"] = [tolist(p) for p in points[1:]]
kind, n, r, act, count = job["gradients_along"]  # at TF's own points along that trajectory
points = [params] + [pairs(p) for p in out["trajectories"][f"{kind}/{n}/{r}/{act}"][:-1]]
out["gradients_along"] = [{"replica": [[tolist(g) for g in part] for part in T.replica_gradients(x[:n], y[:n], p, r, act)],
                           "tower": [tolist(t) for t in T.tower_gradients(x[:n], y[:n], p, r, act)]} for p in points]
# Last, as it leaves this process's collectives aborted: two plain strategies at the default key base.
tf.distribute.MirroredStrategy._collective_key_base = 0
outcomes = []
for devices in (["/cpu:0", "/cpu:1"], ["/cpu:0", "/cpu:1", "/cpu:2", "/cpu:3"]):
    strategy = tf.distribute.MirroredStrategy(devices)
    ctx_sum = lambda: tf.distribute.get_replica_context().all_reduce("SUM", tf.ones([2], tf.float64))
    try:
        total = strategy.experimental_local_results(tf.function(lambda: strategy.run(ctx_sum))())[0]
        outcomes.append(total.numpy().tolist())
    except Exception as e:
        outcomes.append(f"{type(e).__name__}: {e}")
out["second_strategy"] = outcomes
print(json.dumps(out))
"""

WORKER = """
import json, sys, time
start = time.time()
import numpy as np
import tfimpl.parallel as T
job = json.load(open(sys.argv[1]))
params = [(np.array(w), np.array(b)) for w, b in job["params"]]
new = T.multi_worker_step(np.array(job["x"]), np.array(job["y"]), params, job["lr"], job["tf_config"])
trajectory = [params]  # more steps, each from the last one's result, with another activation
for _ in range(job["steps"]):
    trajectory.append(T.multi_worker_step(np.array(job["x"]), np.array(job["y"]), trajectory[-1], job["lr"],
                                          job["tf_config"], job["activation"]))
print(json.dumps({"params": [[a.tolist() for a in pair] for pair in new], "seconds": time.time() - start,
                  "trajectory": [[[a.tolist() for a in pair] for pair in p] for p in trajectory[1:]]}))
"""

STEPS = [(8, 2), (7, 2), (8, 4), (7, 3), (8, 1)]
CLUSTER_ROWS = 7  # 4 rows on worker 0, 3 on worker 1
MIRRORED_TRAJECTORIES = [("step", 8, 1, "tanh", 2), ("step", 7, 2, "sigmoid", 3), ("step", 7, 3, None, 2),
                         ("step", 5, 4, "tanh", 2), ("keras", 8, 2, "tanh", 3), ("keras", 8, 1, "sigmoid", 1),
                         ("keras", 8, 4, None, 1)]
"""(data_parallel_step or keras_fit_step, rows, replicas, activation, steps) run in the MirroredStrategy
child, each step from the last one's result: 1 to 4 replicas, equal and unequal slices (5 rows over 4:
2, 2, 1 and an empty replica), every activation. keras_fit_step takes equal slices only (Keras 3.15,
pinned below); 4 replicas cost 8-10 s a step under load: one step."""
GRADIENTS_ALONG = ("step", 7, 2, "sigmoid", 3)
"""replica_gradients and tower_gradients at each point of this trajectory (4 and 3 rows)."""
CLUSTER_STEPS, CLUSTER_ACTIVATION = 3, "tanh"
"""Each worker's further steps after its first (relu) one: three with tanh."""


def free_ports(count):
    """Ports the kernel picks on 127.0.0.1 (bind to port 0), released for the workers to take."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(workers, index):
    return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}


def _job(path, **fields):
    with open(path, "w") as f:
        json.dump(dict(fields, params=[[w.tolist(), b.tolist()] for w, b in PARAMS], lr=LR), f)
    return str(path)


def _start(code, job):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TF_CONFIG", None)
    return subprocess.Popen([sys.executable, "-c", code, job], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """Starts the MirroredStrategy child and both workers at once; kills and reaps all three at the
    end of the module whatever happened. Yields name -> Popen."""
    folder = tmp_path_factory.mktemp("parallel")
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = {}
    try:
        procs["mirrored"] = _start(MIRRORED, _job(folder / "mirrored.json", x=X.tolist(), y=Y.tolist(),
                                                  splits=SPLITS, steps=STEPS, trajectories=MIRRORED_TRAJECTORIES,
                                                  gradients_along=GRADIENTS_ALONG))
        for i in range(2):
            procs[f"worker{i}"] = _start(WORKER, _job(folder / f"worker{i}.json", x=X[:CLUSTER_ROWS].tolist(),
                                                      y=Y[:CLUSTER_ROWS].tolist(), tf_config=tf_config(workers, i),
                                                      steps=CLUSTER_STEPS, activation=CLUSTER_ACTIVATION))
        yield procs
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()


def result(proc, name, deadline):
    """The child's JSON line, or a failure naming its exit code and stderr (never a hang)."""
    try:
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{name} did not finish within {TIMEOUT} s and was killed\n  stderr: {err[-2000:]}")
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        pytest.fail(f"{name} exited {proc.returncode}\n  stdout: {out[-500:]}\n  stderr: {err[-3000:]}")
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def mirrored(children):
    return result(children["mirrored"], "the MirroredStrategy child", time.monotonic() + TIMEOUT)


@pytest.fixture(scope="module")
def cluster(children):
    deadline = time.monotonic() + TIMEOUT
    return [result(children[f"worker{i}"], f"worker {i}", deadline) for i in range(2)]


def pairs_of(listed):
    return [tuple(np.array(a) for a in pair) for pair in listed]


def test_experimental_distribute_dataset_cuts_the_global_batch_as_the_reference_on_one_device_each(mirrored):
    """TF's per-replica batches of a global batch of n rows over r replicas have the reference's
    sizes: ceil(n / r) rows each until the rows run out (5 over 4: 2, 2, 1, 0, where np.array_split
    gives 2, 1, 1, 1; tf.data's batch_sizes_for_worker documents sizes differing by at most one,
    but MirroredStrategy's first-batch path does not give them), replica k's on logical CPU k."""
    for n, r in SPLITS:
        got = mirrored["split"][f"{n}/{r}"]
        assert [size for size, _ in got] == [len(s) for s in R.split_batch(np.arange(n), r)], (n, r, got)
        assert [device.rsplit("CPU:", 1)[-1] for _, device in got] == [str(k) for k in range(r)], (n, r, got)


def test_mirrored_replicas_compute_the_reference_tower_gradients(mirrored):
    """tower_gradients on two replicas: each replica's gradient of its 4-row slice's mean loss."""
    for k, (got, want) in enumerate(zip(mirrored["towers"], R.tower_gradients(X, Y, PARAMS, 2))):
        assert_params_close(pairs_of(got), want, f"replica {k}'s tower gradient")


@pytest.mark.claim("ch12.3", "tf.distribute all-reduces: every replica ends with the same SUM of the replicas' "
                             "gradients, each the gradient of its slice's summed loss over the global batch; the "
                             "SUM of 4 rows' and 3 rows' shares is the full-batch gradient", source="port")
def test_all_reduce_gives_every_replica_the_same_sum_which_is_the_full_batch_gradient(mirrored):
    """7 rows over two replicas (4 and 3 rows): replica k's gradient is (n_k / 7) times its tower's,
    and after all_reduce(SUM) both replicas hold bitwise the same gradient, the full-batch one."""
    want_per, want_reduced = R.replica_gradients(X[:7], Y[:7], PARAMS, 2)
    for k in range(2):
        assert_params_close(pairs_of(mirrored["per_replica"][k]), want_per[k], f"replica {k} before the all-reduce")
    first, second = (pairs_of(r) for r in mirrored["all_reduced"])
    for a_pair, b_pair in zip(first, second):
        for a, b in zip(a_pair, b_pair):
            assert a.tobytes() == b.tobytes(), f"the replicas hold different all-reduced gradients:\n{a}\n{b}"
    assert_params_close(first, RN.mlp_gradients(X[:7], Y[:7], PARAMS)[1], "all-reduced vs full-batch gradient")


@pytest.mark.claim("ch12.3", "tf.distribute.MirroredStrategy over several devices (strategy.run, "
                             "compute_average_loss over the global batch, keras SGD) gives the same update as one "
                             "device on the whole batch, equal slices or not", source="port")
@pytest.mark.parametrize("rows,replicas", STEPS, ids=[f"{n}-rows-{r}-replicas" for n, r in STEPS])
def test_one_mirrored_step_equals_the_numpy_full_batch_step(mirrored, rows, replicas):
    """data_parallel_step (strategy.run in a tf.function, compute_average_loss over the global
    batch, keras SGD all-reducing) on 1, 2, 3 or 4 logical CPUs, equal slices or not."""
    got = pairs_of(mirrored["step"][f"{rows}/{replicas}"])
    assert_params_close(got, R.data_parallel_step(X[:rows], Y[:rows], PARAMS, LR, replicas), "vs the reference step")
    assert_params_close(got, full_batch_step(X[:rows], Y[:rows]), "vs the full-batch step")


def test_keras_fit_under_mirrored_strategy_scope_takes_the_full_batch_step(mirrored):
    """model.fit on one 8-row batch under strategy.scope() over two replicas, float64 throughout
    (the loss object given dtype='float64': by default Keras computes a loss in float32)."""
    assert_params_close(pairs_of(mirrored["keras"]), full_batch_step(X, Y), "keras fit vs the full-batch step")


def test_keras_fit_under_mirrored_strategy_rejects_a_first_batch_that_does_not_split_evenly(mirrored):
    """Keras 3.15: before the first step, fit builds the model from the first distributed batch
    reduced with MEAN over the replicas (trainer._maybe_symbolic_build), and a 7-row batch's
    4-row and 3-row slices cannot be averaged element by element. A custom step takes it."""
    assert mirrored["keras_uneven"].startswith("InvalidArgumentError") and "AddN" in mirrored["keras_uneven"] and (
        "[4,3] != input 1: [3,3]" in mirrored["keras_uneven"]), mirrored["keras_uneven"]


def test_a_second_mirrored_strategy_over_other_devices_reuses_the_first_ones_collective_keys_and_fails(mirrored):
    """Every MirroredStrategy numbers its collective groups from 1 + _collective_key_base (0): after a
    strategy over 2 CPUs has all-reduced, one over 4 CPUs reuses group key 1 with another group size
    and TF 2.21 aborts its collective with an InternalError (tensorflow/tensorflow#62790: models
    trained one after another). tfimpl makes one strategy per replica count and gives each its own
    key range, as TF's tests do; a program makes one strategy."""
    first, second = mirrored["second_strategy"]
    assert first == [2.0, 2.0], first
    assert isinstance(second, str) and second.startswith("InternalError") and re.search(
        r"joining a group with size ?4, but that group has size 2 \(group_key=1\)", second), second


def test_more_replicas_than_logical_devices_is_refused_with_the_set_up_call(mirrored):
    message = mirrored.get("too_many", "no error")
    assert message.startswith("5 replicas need 5 logical devices") and "set_logical_device_configuration" in message, (
        message)


@pytest.mark.claim("ch12.4", "with tf.distribute.MultiWorkerMirroredStrategy every worker applies the same "
                             "all-reduced update, so the workers end the step with bitwise identical weights",
                   source="port")
def test_two_workers_end_the_step_with_bitwise_identical_weights(cluster):
    """MultiWorkerMirroredStrategy, two processes on 127.0.0.1 (TF_CONFIG each, ring all-reduce
    over gRPC), 7 rows: worker 0 computes 4, worker 1 3; both apply the same all-reduced sum."""
    first, second = (pairs_of(w["params"]) for w in cluster)
    for layer, (a_pair, b_pair) in enumerate(zip(first, second)):
        for name, a, b in zip("wb", a_pair, b_pair):
            assert a.tobytes() == b.tobytes(), f"layer {layer} {name} differs between the workers:\n{a}\n{b}"


@pytest.mark.claim("ch12.4", "tf.distribute.MultiWorkerMirroredStrategy across two worker processes gives the same "
                             "update as one machine on the whole batch", source="port")
def test_the_two_worker_step_equals_the_numpy_full_batch_step(cluster):
    x, y = X[:CLUSTER_ROWS], Y[:CLUSTER_ROWS]
    for i, w in enumerate(cluster):
        got = pairs_of(w["params"])
        config = tf_config(["a:1", "b:2"], i)
        assert_params_close(got, R.multi_worker_step(x, y, PARAMS, LR, config), f"worker {i} vs the reference")
        assert_params_close(got, full_batch_step(x, y), f"worker {i} vs the full-batch step")


# --- every step across sides: trajectories (tests/trajectory.py) -------------------------------
# Each side takes its steps from its own last result; after every step the parameters agree within a
# bound derived per step: one step's local error from the error models (each slice's forward and
# backward pass, the weighting, the all-reduce or the towers' mean, the step; both sides) carried by
# the later steps' Jacobians I - lr H of the combined gradient.

def slices_of(rows, replicas):
    return list(zip(R.split_batch(X[:rows], replicas), R.split_batch(Y[:rows], replicas)))


def combined_gradient(rows, replicas, activation, weighting):
    """The reference's gradient of one step at params: tf.distribute's all-reduced sum ("global":
    each slice weighted n_k / N) or the book's mean of the towers ("tower": 1 / R)."""
    def gradient(params, k=None):
        if weighting == "global":
            return R.replica_gradients(X[:rows], Y[:rows], params, replicas, activation)[1][0]
        return R.average_gradients(R.tower_gradients(X[:rows], Y[:rows], params, replicas, activation))
    return gradient


def weights_of(rows, replicas, weighting):
    return [len(xk) / rows if weighting == "global" else 1 / replicas for xk, _ in slices_of(rows, replicas)]


def parallel_bounds(rows, replicas, activation, expected, weighting):
    """Per-step drift bounds of a data-parallel trajectory from PARAMS (``expected``: the reference's
    parameters after each step)."""
    slices, weights = slices_of(rows, replicas), weights_of(rows, replicas, weighting)
    gradient = combined_gradient(rows, replicas, activation, weighting)

    def local_error(params, k):
        errors = trajectory.sliced_gradient_error(slices, params, weights, activation)
        return trajectory.step_error(params, gradient(params), errors, LR, rate_used=np.float32(LR))
    return trajectory.gd_bounds([PARAMS] + expected[:-1],
                                lambda k, v: trajectory.sliced_gradient(slices, PARAMS, v, weights, activation),
                                gradient, local_error, LR)


def reference_steps(step, steps, *args):
    """``step(x, labels, params, LR, *args)`` taken ``steps`` times from PARAMS, each from the last."""
    points = [PARAMS]
    for _ in range(steps):
        points.append(step(*args[:2], points[-1], LR, *args[2:]))
    return points[1:]


def check_trajectory(actual, step, weighting, rows, replicas, activation, what, extra=None):
    """``actual`` (TF's parameters after each step) against ``step`` of the reference taken as many
    times, within the derived bounds; returns the largest share of a bound used."""
    expected = reference_steps(step, len(actual), X[:rows], Y[:rows], replicas if extra is None else extra, activation)
    bounds = parallel_bounds(rows, replicas, activation, expected, weighting)
    return trajectory.assert_drift_within(actual, expected, bounds, f"{what}, {rows} rows, {replicas} replicas, "
                                                                     f"{activation}")


V1_TRAJECTORIES = [(8, 1, "tanh", 2), (8, 2, "sigmoid", 3), (7, 2, None, 2), (7, 3, "relu", 2), (8, 4, "tanh", 2)]
"""(rows, towers, activation, steps) of the TF1 towers' trajectories."""


def check_tf1_towers(rows, replicas, activation, steps):
    actual = [PARAMS]
    for _ in range(steps):
        actual.append(T.data_parallel_step_v1(X[:rows], Y[:rows], actual[-1], LR, replicas, activation))
    return check_trajectory(actual[1:], R.data_parallel_step_v1, "tower", rows, replicas, activation, "TF1 towers")


@pytest.mark.parametrize("rows,replicas,activation,steps", V1_TRAJECTORIES,
                         ids=[f"{n}-rows-{r}-towers-{a or 'linear'}" for n, r, a, _ in V1_TRAJECTORIES])
def test_tf1_towers_follow_the_reference_towers_at_every_step(rows, replicas, activation, steps):
    """data_parallel_step_v1 (the book's towers in a Session of 1 to 4 CPU devices) taken two or three
    times, each from its last result, against reference.parallel.data_parallel_step_v1 taken the same
    way: equal and unequal slices (where the towers' mean is not the full-batch step), every activation."""
    check_tf1_towers(rows, replicas, activation, steps)


@pytest.mark.planted
def test_tf1_towers_that_ignore_the_activation_fail_the_per_step_check(monkeypatch):
    """Planted: the TF1 towers build every layer with relu whatever they are given. Every parallel
    test used relu; the sigmoid trajectory fails at its first step."""
    real = T.data_parallel_step_v1
    monkeypatch.setattr(T, "data_parallel_step_v1",
                        lambda x, labels, params, lr, replicas, activation="relu": real(x, labels, params, lr, replicas))
    with pytest.raises(AssertionError, match=r"TF1 towers, 8 rows, 2 replicas, sigmoid: after step 1"):
        check_tf1_towers(8, 2, "sigmoid", steps=1)


def mirrored_trajectory(mirrored, case):
    kind, n, r, act, _ = case
    return [pairs_of(p) for p in mirrored["trajectories"][f"{kind}/{n}/{r}/{act}"]]


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")  # the empty replica's loss (not its gradient)
@pytest.mark.parametrize("case", [c for c in MIRRORED_TRAJECTORIES if c[0] == "step"],
                         ids=[f"{n}-rows-{r}-replicas-{a or 'linear'}" for k, n, r, a, _ in MIRRORED_TRAJECTORIES
                              if k == "step"])
def test_mirrored_steps_follow_the_reference_at_every_step(mirrored, case):
    """data_parallel_step on 1 to 4 logical CPUs, each step from its last result (in the child), against
    reference.parallel.data_parallel_step taken the same way; 5 rows over 4 replicas leave one empty."""
    _, rows, replicas, activation, _ = case
    check_trajectory(mirrored_trajectory(mirrored, case), R.data_parallel_step, "global", rows, replicas, activation,
                     "MirroredStrategy step")


def check_keras(mirrored, case):
    _, rows, replicas, activation, _ = case
    return check_trajectory(mirrored_trajectory(mirrored, case), R.keras_fit_step, "global", rows, replicas,
                            activation, "keras fit")


@pytest.mark.parametrize("case", [c for c in MIRRORED_TRAJECTORIES if c[0] == "keras"],
                         ids=[f"{n}-rows-{r}-replicas-{a or 'linear'}" for k, n, r, a, _ in MIRRORED_TRAJECTORIES
                              if k == "keras"])
def test_keras_fit_steps_follow_the_reference_keras_fit_step(mirrored, case):
    """keras_fit_step under MirroredStrategy.scope() over 1, 2 and 4 replicas, each step from its last
    result, against its twin reference.parallel.keras_fit_step taken the same way."""
    check_keras(mirrored, case)


@pytest.mark.planted
def test_a_reference_keras_fit_step_that_ignores_the_activation_fails_the_check(mirrored, monkeypatch):
    """Planted, on the reference side: keras_fit_step trains a relu network whatever it is given (no
    test called it). The tanh trajectory fails at its first step."""
    real = R.keras_fit_step
    monkeypatch.setattr(R, "keras_fit_step",
                        lambda x, labels, params, lr, replicas, activation="relu": real(x, labels, params, lr, replicas))
    with pytest.raises(AssertionError, match=r"keras fit, 8 rows, 2 replicas, tanh: after step 1"):
        check_keras(mirrored, ("keras", 8, 2, "tanh", 3))


def test_replica_and_tower_gradients_at_every_step_are_the_references(mirrored):
    """replica_gradients (before and after the all-reduce) and tower_gradients on two replicas (4 and
    3 rows, sigmoid), at each point of the MirroredStrategy trajectory: TF's own parameters before
    each step, where the reference computes them on the same input. Bound: both sides' error model of
    each slice's gradient (weighted n_k / N, plus the weighting's and the all-reduce's roundings)."""
    kind, rows, replicas, activation, _ = GRADIENTS_ALONG
    points = [PARAMS] + mirrored_trajectory(mirrored, GRADIENTS_ALONG)[:-1]
    slices, weights = slices_of(rows, replicas), weights_of(rows, replicas, "global")
    for k, (point, got) in enumerate(zip(points, mirrored["gradients_along"]), 1):
        per_replica, reduced = R.replica_gradients(X[:rows], Y[:rows], point, replicas, activation)
        towers = R.tower_gradients(X[:rows], Y[:rows], point, replicas, activation)
        for t, (xs, ys) in enumerate(slices):
            alone = 2 * trajectory.flat(trajectory.gradient_error(xs, ys, point, activation))
            scaled = weights[t] * alone + EPS * trajectory.flat(per_replica[t])
            assert_within(trajectory.flat(pairs_of(got["replica"][0][t])), trajectory.flat(per_replica[t]), scaled,
                          f"replica {t} before the all-reduce, at step {k}")
            assert_within(trajectory.flat(pairs_of(got["tower"][t])), trajectory.flat(towers[t]), alone,
                          f"tower {t}, at step {k}")
        bound = 2 * trajectory.sliced_gradient_error(slices, point, weights, activation)
        for t in range(replicas):
            assert_within(trajectory.flat(pairs_of(got["replica"][1][t])), trajectory.flat(reduced[t]), bound,
                          f"replica {t} after the all-reduce, at step {k}")


def test_two_workers_follow_the_reference_at_every_step_and_stay_bitwise_equal(cluster):
    """Each worker process takes three more tanh steps with MultiWorkerMirroredStrategy, each from its
    last result: after every step the two workers hold bitwise the same weights, and they follow
    reference.parallel.multi_worker_step taken the same way (7 rows: 4 and 3)."""
    trajectories = [[pairs_of(p) for p in w["trajectory"]] for w in cluster]
    for k, (first, second) in enumerate(zip(*trajectories), 1):
        assert all(a.tobytes() == b.tobytes() for pa, pb in zip(first, second) for a, b in zip(pa, pb)), (
            f"the workers differ after step {k}")
    for i, actual in enumerate(trajectories):
        check_trajectory(actual, R.multi_worker_step, "global", CLUSTER_ROWS, 2, CLUSTER_ACTIVATION,
                         f"worker {i}", extra=tf_config(["a:1", "b:2"], i))
