"""The two sides' contract, as tests/test_api.py and tests/test_comparisons.py check it: the modules
of each side, and the names that exist on one side only, with why."""
import pkgutil

import reference
import tfimpl

SIDES = {side: {m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")}
         for side, pkg in (("reference", reference), ("tfimpl", tfimpl))}
MODULES = sorted(SIDES["reference"] | SIDES["tfimpl"])

ONE_SIDED = {
    ("nn", "ACTIVATION_VJPS"): "reference only: backprop by hand needs each activation's derivative; "
                               "tfimpl gets every derivative from GradientTape",
    ("tfrecord", "crc32c"): "reference only: TF computes CRC-32C inside its C++ RecordWriter/Reader and offers "
                            "no Python call for it; tests check the reference's against google-crc32c",
    ("tfrecord", "masked_crc32c"): "reference only: as crc32c, the mask lives in TF's C++ (crc32c::Mask)",
    ("tfrecord", "DataLossError"): "reference only: TF raises its own tf.errors.DataLossError, which tfimpl "
                                   "does not define",
    ("data", "Dataset"): "tfimpl.data.Dataset is tf.data.Dataset itself, a re-export public() does not count; "
                         "test_a_reference_class_mirrors_the_tf_class_tfimpl_reexports checks it method by method",
    ("variables", "inference_graph_v1"): "tfimpl only: the book's inference(input_tensor, reuse) builds ops into "
                                         "the current TF1 graph; NumPy has no graph (its numbers: inference_v1)",
    ("checkpoint", "save_sum_v1"): "tfimpl only: the book's v1 + v2 graph, saved with its .meta; the graph has no "
                                   "NumPy counterpart (the numbers it saves are save_v1's)",
    ("checkpoint", "import_meta_graph_v1"): "tfimpl only: rebuilds a TF graph from path.meta; NumPy saves no graph",
    ("checkpoint", "freeze_v1"): "tfimpl only: rewrites a GraphDef's variables as Const ops; NumPy has no graph",
    ("checkpoint", "run_frozen_v1"): "tfimpl only: imports and runs a frozen GraphDef; NumPy has no graph",
    ("checkpoint", "freeze"): "tfimpl only: convert_variables_to_constants_v2 on a tf.function's graph; NumPy "
                              "has no graph",
}
"""(module, name) -> why the name exists on one side only."""

TF_ONLY_MODULES = {
    "graph": "graphs, tensor names, dtype inference and Session lifetime are TensorFlow machinery; "
             "NumPy computes at once and has nothing to mirror",
    "devices": "device placement, soft placement and GPU memory are TensorFlow's (ConfigProto, tf.config); "
               "NumPy runs on the one CPU and has nothing to place",
}
"""module -> why tfimpl/ has it and reference/ has no twin (its numbers, if any, are checked
against NumPy in its tests)."""
