"""Stage 5, emit: the only stage that imports TensorFlow (lazily, from here)."""
