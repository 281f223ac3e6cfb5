"""Transfer learning from scratch: a pretrained network's hidden layers, frozen, feed a new head.

The pretrained network is ``params``, a list of (w, b): hidden layers with ``activation``, the
last layer its old logits. Transfer keeps the hidden layers (the base), drops the old logits and
trains a new linear head on the base's output, the bottleneck features:

    features  f = act(... act(x @ w1 + b1) ... @ wL + bL)        the base, frozen
    logits    z = f @ w_head + b_head                              the new head, trained
    step      (w_head, b_head) <- (w_head, b_head) - lr * dJ/d(w_head, b_head),
              J = batch-mean softmax cross-entropy of z; the base never changes.

The base never changes, so f is a constant: training the head of the whole network is gradient
descent on a one-layer network whose inputs are f. That is the first edition's ch6.5 (the
bottleneck of Inception-v3 cached once per image, a new fully connected layer trained on the
cache) and the second edition's (tf.contrib.slim: restore every variable but the logits, train
only the logits) in one formula. This is the cached form: f computed once, then
reference.nn.train on (f, labels). tfimpl/transfer.py trains the whole network with the base
frozen, the Keras way and the TF1 (Saver, ``var_list``) and tf_slim ways.

The pretrained network travels in a checkpoint file; here NumPy's: np.savez of name -> array,
one entry per variable, named as the TF1 code names them (layer1/weights, layer1/biases, ...,
logits/weights, logits/biases), and the hidden activation's name beside them.
"""
import numpy as np

from reference import _checks as check
from reference import nn

def save_pretrained(path, params, activation="relu"):
    """Write the pretrained network to ``path``: np.savez of {scope/weights: w, scope/biases: b}
    plus the activation's name. Returns the file written (np.savez appends .npz).
    Mirrors keras.Model.save(".keras"): the file is what the pretraining run leaves behind."""
    check.pairs(params, "params")
    check.one_of(activation, nn.ACTIVATIONS, "activation")
    arrays = {}
    for scope, (w, b) in zip(_scopes(len(params)), params):
        arrays[f"{scope}/weights"], arrays[f"{scope}/biases"] = np.asarray(w), np.asarray(b)
    path = str(path) if str(path).endswith(".npz") else f"{path}.npz"
    np.savez(path, activation=np.array(str(activation)), **arrays)
    return path


def save_pretrained_v1(path, params, activation="relu"):
    """The same file; mirrors the TF1 pretraining run's tf.compat.v1.train.Saver().save(sess, path)."""
    return save_pretrained(path, params, activation)


def features(x, base_params, activation="relu"):
    """f = act(... act(x @ w1 + b1) ... @ wL + bL): every layer of the base with the activation,
    none of them the logits. Mirrors the frozen base's forward pass (keras base(x, training=False))."""
    check.pairs(base_params, "base_params")
    for w, b in base_params:
        x = nn.dense(x, w, b, activation)
    return x


def bottleneck(x, checkpoint, activation="relu"):
    """features(x, base) for the base restored from ``checkpoint``: every layer but the old logits."""
    return features(x, _restore(checkpoint, activation)[:-1], activation)


def bottleneck_v1(x, checkpoint, activation="relu"):
    """The same features; mirrors a Saver restoring all but the logits scope, then sess.run."""
    return bottleneck(x, checkpoint, activation)


def train_head(x, labels, checkpoint, head, learning_rate, steps, batches=None, activation="relu"):
    """Gradient descent on the new head alone: f = bottleneck(x, checkpoint) once, then
    reference.nn.train(f, labels, [head], ...) (one linear layer on f, softmax cross-entropy).

    ``head`` is the new logits layer's initial (w, b), w of shape (n_features, n_classes);
    ``batches[k]`` the row indices of step k (None: every row). Returns the whole network's
    parameters after each step: the restored base's (w, b) pairs, unchanged, then the head's."""
    check.pairs([head], "head")
    check.positive(learning_rate=learning_rate)
    base = _restore(checkpoint, activation)[:-1]
    trajectory = nn.train(features(x, base, activation), labels, [head], learning_rate, steps, batches)
    return [base + step for step in trajectory]


def train_head_v1(x, labels, checkpoint, head, learning_rate, steps, batches=None, activation="relu"):
    """The same trajectory; mirrors Saver(var_list=all but logits).restore and
    GradientDescentOptimizer(lr).minimize(loss, var_list=the logits' variables) in a Session."""
    return train_head(x, labels, checkpoint, head, learning_rate, steps, batches, activation)


def train_head_slim(x, labels, checkpoint, head, learning_rate, steps, batches=None, activation="relu"):
    """The same trajectory; mirrors slim.get_variables_to_restore(exclude=["logits"]),
    slim.assign_from_checkpoint_fn and slim.learning.create_train_op(variables_to_train=...)."""
    return train_head(x, labels, checkpoint, head, learning_rate, steps, batches, activation)


def _restore(checkpoint, activation):
    """The (w, b) pairs saved in ``checkpoint``, in layer order, after checking the activation: the
    .npz records it (as a .keras file does; a TF1 checkpoint holds variables only)."""
    check.one_of(activation, nn.ACTIVATIONS, "activation")
    with np.load(checkpoint) as saved:
        if str(saved["activation"]) != str(activation):
            raise ValueError(check.message("activation_mismatch", given=activation,
                                           saved=_activation(saved["activation"])))
        n_layers = sum(name.endswith("/weights") for name in saved.files)
        return [(saved[f"{scope}/weights"], saved[f"{scope}/biases"]) for scope in _scopes(n_layers)]


def _activation(name):
    """The activation key an .npz records as text: "None" for no activation."""
    return None if str(name) == "None" else str(name)


def _scopes(n_layers):
    """The variable scopes of a network of ``n_layers`` layers: layer1, ..., layer{n-1}, logits
    (the book's naming: hidden layers by number, the classifier "logits", as in InceptionV3/Logits)."""
    return [f"layer{i}" for i in range(1, n_layers)] + ["logits"]
