"""TensorFlow forms of the concepts in ``reference``, same names and signatures.

Arrays or tensors in, ``tf.Tensor`` out, the input dtype preserved. Each
``<name>_vjp`` is the derivative TensorFlow's autodiff gives (GradientTape),
matched against the hand-derived one in ``reference``.
"""
