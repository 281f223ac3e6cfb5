"""Derivatives the TF2 way: record the forward pass on a GradientTape, then ask
the tape for the gradient with the upstream gradient ``dy`` as seed."""
import inspect

import tensorflow as tf


def vjp(fn, wrt=(0,)):
    """Return ``fn_vjp``: the gradient of sum(dy * fn(...)) with respect to the positional
    arguments ``wrt`` (one tensor, or a tuple when ``wrt`` names several). Unconnected
    arguments get zeros, not None.

    ``fn_vjp`` takes fn's parameters with ``dy`` inserted right after the last argument
    differentiated, as every reference ``*_vjp`` writes it: l1(w, scale) gives
    l1_vjp(w, dy, scale), asymmetric_loss(v1, v2, a, b) gives asymmetric_loss_vjp(v1, v2, dy, a, b),
    dense(x, w, b, activation=None) gives dense_vjp(x, w, b, dy, activation=None). dy may be
    passed by position or by name; ``inspect.signature(fn_vjp)`` shows the real signature."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    at = max(wrt) + 1
    dy_param = inspect.Parameter("dy", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    vjp_sig = sig.replace(parameters=params[:at] + [dy_param] + params[at:])

    def fn_vjp(*args, **kwargs):
        arguments = vjp_sig.bind(*args, **kwargs).arguments
        dy = arguments.pop("dy")
        call = inspect.BoundArguments(sig, arguments)
        args = [tf.convert_to_tensor(a) if i in wrt else a for i, a in enumerate(call.args)]
        with tf.GradientTape() as tape:
            for i in wrt:
                tape.watch(args[i])
            y = fn(*args, **call.kwargs)
        grads = tape.gradient(y, [args[i] for i in wrt], output_gradients=tf.nest.map_structure(
            lambda t, d: tf.cast(d, t.dtype), y, dy),
            unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return grads[0] if len(wrt) == 1 else tuple(grads)

    fn_vjp.__name__ = fn_vjp.__qualname__ = f"{fn.__name__}_vjp"
    fn_vjp.__module__ = fn.__module__
    fn_vjp.__doc__ = f"Gradient of sum(dy * {fn.__name__}(...)) by GradientTape."
    fn_vjp.__signature__ = vjp_sig
    return fn_vjp
