"""Derivatives the TF2 way: record the forward pass on a GradientTape, then ask
the tape for the gradient with the upstream gradient ``dy`` as seed."""
import functools

import tensorflow as tf


def vjp(fn, wrt=(0,)):
    """Return ``fn_vjp(*args, dy, **kwargs)``: the gradient of sum(dy * fn(*args))
    with respect to the positional arguments ``wrt`` (one tensor, or a tuple
    when ``wrt`` names several). Unconnected arguments get zeros, not None."""

    @functools.wraps(fn)
    def fn_vjp(*args, dy, **kwargs):
        args = [tf.convert_to_tensor(a) if i in wrt else a for i, a in enumerate(args)]
        with tf.GradientTape() as tape:
            for i in wrt:
                tape.watch(args[i])
            y = fn(*args, **kwargs)
        grads = tape.gradient(y, [args[i] for i in wrt], output_gradients=tf.nest.map_structure(
            lambda t, d: tf.cast(d, t.dtype), y, dy),
            unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return grads[0] if len(wrt) == 1 else tuple(grads)

    fn_vjp.__name__ = fn_vjp.__qualname__ = f"{fn.__name__}_vjp"
    fn_vjp.__doc__ = f"Gradient of sum(dy * {fn.__name__}(...)) by GradientTape."
    return fn_vjp
