"""TensorFlow forms of the concepts in ``reference``, same names and signatures.

Arrays or tensors in, ``tf.Tensor`` out, the input dtype preserved. Each
``<name>_vjp`` is the derivative TensorFlow's autodiff gives (GradientTape),
matched against the hand-derived one in ``reference``.

Where the classic TF1 books show code, the same module holds it as they run it:
``<name>_v1`` builds the graph with ``tf.compat.v1`` and runs it in a Session
(GradientDescentOptimizer(...).minimize, the "losses" collection, an
ExponentialMovingAverage's apply/average, minimize(global_step=)); the plain name
is the TF2 form (Keras objects, GradientTape, keras.optimizers.SGD). Each has a
NumPy twin of the same name and signature in ``reference`` (tests/test_api.py).
"""
