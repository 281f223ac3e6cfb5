"""NumPy references: each concept as a reader would derive it, formula first.

Every function takes NumPy arrays, computes in float64 and returns the input's
dtype. Functions named ``<name>_vjp`` are the hand-derived derivatives
(vector-Jacobian products: the gradient of ``sum(dy * f(x))``) that
backpropagation computes; ``tfimpl`` gets the same from GradientTape.
"""
