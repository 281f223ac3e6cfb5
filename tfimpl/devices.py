"""GPU selection and memory (the book's 12.1 [1st ed.: 10.1]): TF1's ConfigProto Sessions beside TF2's
tf.config calls.

    TF1 (the book: tf.ConfigProto, tf.GPUOptions, tf.Session;   TF2 (tf.config: before TF initialises)
    today tf.compat.v1.*)
    CUDA_VISIBLE_DEVICES=1 python train.py                       the same, or
                                                                 tf.config.set_visible_devices(gpus[1:2], "GPU")
    config = tf.ConfigProto(log_device_placement=True)           tf.debugging.set_log_device_placement(True)
    config = tf.ConfigProto(allow_soft_placement=True)           tf.config.set_soft_device_placement(True)
                                                                   (eager's default: on; ConfigProto's: off)
    config.gpu_options.allow_growth = True                       tf.config.experimental.set_memory_growth(gpu, True)
    config.gpu_options.per_process_gpu_memory_fraction = 0.4     tf.config.set_logical_device_configuration(
                                                                     gpu, [LogicalDeviceConfiguration(memory_limit=MB)])
    tf.ConfigProto(device_count={"CPU": 2})                      set_logical_device_configuration(cpu, [LDC(), LDC()])
    sess = tf.Session(config=config)                             (no Session: the settings are the process's)
    with tf.device('/gpu:0'): ...                                with tf.device('/GPU:0'): ...

A ConfigProto belongs to one Session and can be built at any time. The tf.config calls change the
process's one eager context: they must run before TF initialises it (the first op, or
``list_logical_devices``); afterwards a call that would change anything raises RuntimeError
("Visible devices cannot be modified after being initialized", "Virtual devices ...", "Physical
devices ..."), while one that changes nothing passes. ``CUDA_VISIBLE_DEVICES`` is read by CUDA
when it starts (cuInit), which TF does at its first op, not at ``import tensorflow``: it must be in
the environment before that (the shell, a child process, or ``os.environ`` before the first op).
On the CPU, logical devices stand in for a device list; a ``memory_limit`` or memory growth there
is a ValueError. Without soft placement, an op pinned where no device or no kernel
can run it fails with InvalidArgumentError; with it, the op moves to the CPU. The placement log
is printed on stdout (printf, whatever TF_CPP_MIN_LOG_LEVEL says) and logged on stderr (INFO:
shown only with TF_CPP_MIN_LOG_LEVEL=0). tests/test_devices.py states each fact; the ones that
must precede initialisation run in child processes.

The module has no NumPy twin: NumPy has no devices (tests/test_api.py, TF_ONLY_MODULES).
"""
import tensorflow as tf

# --- TF1: one ConfigProto per Session -------------------------------------------------------


def session_config_v1(allow_soft_placement=False, log_device_placement=False, allow_growth=False,
                      per_process_gpu_memory_fraction=0.0, cpu_count=None):
    """The book's ConfigProto, written its way: the flags in the constructor, the GPU options set
    on ``config.gpu_options`` (equal to ``ConfigProto(gpu_options=GPUOptions(...))``).
    ``allow_growth`` takes GPU memory as the Session needs it; a memory fraction takes that share
    of each GPU's memory up front; ``cpu_count`` asks for that many CPU devices (``/cpu:0``,
    ``/cpu:1``, ...)."""
    config = tf.compat.v1.ConfigProto(allow_soft_placement=allow_soft_placement,
                                      log_device_placement=log_device_placement)
    config.gpu_options.allow_growth = allow_growth
    config.gpu_options.per_process_gpu_memory_fraction = per_process_gpu_memory_fraction
    if cpu_count is not None:
        config.device_count["CPU"] = cpu_count
    return config


def _placements(graph, run_metadata):
    """{op name: the device it ran on} for the graph's own ops in a traced run."""
    ours = {op.name for op in graph.get_operations()}
    return {node.node_name: dev.device for dev in run_metadata.step_stats.dev_stats
            for node in dev.node_stats if node.node_name in ours}


def _traced_run(graph, fetches, config, feed_dict=None):
    """Session(config=config).run(fetches) with a full trace: (values, placements)."""
    metadata = tf.compat.v1.RunMetadata()
    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        values = sess.run(fetches, feed_dict=feed_dict, options=options, run_metadata=metadata)
    return values, _placements(graph, metadata)


def add_on_device_v1(a, b, device=None, config=None):
    """The book's first program of 12.1 [1st ed.: 10.1]: ``c = a + b`` built under
    ``with tf.device(device)`` and run in ``Session(config=config)``. ``a`` and ``b`` are fed to placeholders (constants would be
    folded away before they run). Returns (c, {op name: the device it ran on}), from the run's
    trace. Pinned to a device the process lacks, without ``allow_soft_placement``, it raises
    InvalidArgumentError "Cannot assign a device for operation add ..."."""
    graph = tf.Graph()
    with graph.as_default(), tf.device(device):
        x = tf.compat.v1.placeholder(tf.float32, name="a")
        y = tf.compat.v1.placeholder(tf.float32, name="b")
        c = tf.add(x, y, name="add")
    return _traced_run(graph, c, config, feed_dict={x: a, y: b})


def book_variables_v1(config=None):
    """The book's soft-placement example: ``a_cpu = tf.Variable(0, name="a_cpu")`` and, under
    ``with tf.device('/gpu:0')``, ``a_gpu = tf.Variable(0, name="a_gpu")``, initialised in
    ``Session(config=config)``. An int32 variable has no GPU kernel: without
    ``allow_soft_placement`` this raises InvalidArgumentError; with it, a_gpu lives on the CPU.
    Returns ({name: value}, {op name: the device it ran on})."""
    graph = tf.Graph()
    with graph.as_default():
        a_cpu = tf.compat.v1.Variable(0, name="a_cpu")
        with tf.device("/gpu:0"):
            a_gpu = tf.compat.v1.Variable(0, name="a_gpu")
        init = tf.compat.v1.global_variables_initializer()
    metadata = tf.compat.v1.RunMetadata()
    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        sess.run(init, options=options, run_metadata=metadata)
        values = dict(zip(("a_cpu", "a_gpu"), sess.run([a_cpu, a_gpu])))
    return values, _placements(graph, metadata)


# --- TF2: eager placement, and the process's devices ------------------------------------------

def add_on_device(a, b, device=None):
    """TF2: ``with tf.device(device): c = tf.add(a, b)``, run at once. Eager soft placement is on
    by default (``tf.config.set_soft_device_placement``), so a device the process lacks falls back
    to one it has. Returns (c, c.device)."""
    with tf.device(device):
        c = tf.add(tf.constant(a, tf.float32), tf.constant(b, tf.float32))
    return c, c.device


def configure_gpus(visible=None, memory_growth=True, memory_limit=None):
    """TF2's ConfigProto, for the whole process, before TF initialises: keep the GPUs at indices
    ``visible`` (all when None; ``tf.config.set_visible_devices``), then on each give either a
    logical device capped at ``memory_limit`` MB (``set_logical_device_configuration``, the
    memory fraction's twin) or memory growth (``set_memory_growth``, allow_growth's twin).
    Returns the physical GPUs left visible (none on a machine without one: nothing to set)."""
    gpus = tf.config.list_physical_devices("GPU")
    if visible is not None:
        gpus = [gpus[i] for i in visible]
        tf.config.set_visible_devices(gpus, "GPU")
    for gpu in gpus:
        if memory_limit is not None:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=memory_limit)])
        else:
            tf.config.experimental.set_memory_growth(gpu, memory_growth)
    return gpus


def logical_cpus(n):
    """Split the CPU into ``n`` logical devices, /CPU:0 ... /CPU:n-1, before TF initialises (the
    twin of ``ConfigProto(device_count={"CPU": n})``): a device list to place ops on, on a machine
    with one CPU device and no GPU. Returns the physical CPU."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    return cpu
