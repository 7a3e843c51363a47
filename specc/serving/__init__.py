"""Serving: what an exported model offers (its signatures) and how it runs there, decided without TensorFlow."""
