"""Variable management (the book's p107) and collections (p89), in NumPy: the numbers that
tfimpl/variables.py's TF1 and TF2 programs compute.

NumPy has no graph, no variable scopes and no collections. A layer's weights are the arrays it
is given, so two calls share their weights by being given the same arrays, and a collection of
losses is a Python list summed at the end. What TF1 adds around these numbers (names such as
layer1/weights:0, reuse flags, the graph's collections) is bookkeeping; tests/test_variables.py
pins it.
"""
from reference import _checks as check
from reference.nn import mlp_forward
from reference.regularizers import l2_keras, l2_v1


def inference(batches, params, activation="relu"):
    """[mlp_forward(x, params, activation) for x in batches]: one network, the same (w, b) per
    layer, on every batch; hidden layers activation(h @ w + b), the last linear.
    Mirrors one tf.Module holding the layers, called on each batch."""
    check.pairs(params, "params")
    return [mlp_forward(x, params, activation) for x in batches]


def inference_v1(batches, params, activation="relu"):
    """The same outputs. Mirrors the book's inference(input_tensor, reuse): the first batch creates
    layer i's variables in variable_scope("layer<i>"), every later batch reuses them (reuse=True)."""
    return inference(batches, params, activation)


def weight_penalty(params, scale):
    """sum over layers of scale * sum(w^2) / 2: every weight matrix's L2 penalty in TF1's units
    (l2_regularizer(scale)(w) = scale * tf.nn.l2_loss(w)), biases unpenalised.
    Mirrors a sum over the weights a tf.Module holds."""
    check.pairs(params, "params")
    check.non_negative(scale=scale)
    return sum(l2_v1(w, scale) for w, _ in params)


def weight_penalty_v1(params, scale):
    """The same total. Mirrors the book's tf.add_n(tf.get_collection("losses")), each layer having
    added l2_regularizer(scale)(weights) to the collection where it created its weights."""
    return weight_penalty(params, scale)


def weight_penalty_keras(params, scale):
    """sum over layers of float32(scale / 2) * sum(w^2): the same penalty as Keras's L2(scale / 2)
    (Keras has no 1/2 and rounds its factor to float32). Mirrors tf.add_n(model.losses)."""
    check.pairs(params, "params")
    check.non_negative(scale=scale)
    return sum(l2_keras(w, scale / 2) for w, _ in params)
