"""A softmax without its axis parameter: not the contract's signature."""
import tensorflow as tf


def softmax(logits):
    return tf.nn.softmax(logits)
