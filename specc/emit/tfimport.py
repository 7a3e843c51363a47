"""Import TensorFlow quietly: its start-up log noise never reaches the user's terminal."""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager


@contextmanager
def _stderr_silenced():
    # TensorFlow's C++ runtime prints oneDNN/CUDA notices before absl logging is
    # initialised, so TF_CPP_MIN_LOG_LEVEL cannot stop them: hide file descriptor 2.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def tensorflow(verbose: bool = False):
    """The tensorflow module, imported once with its noise off unless `verbose`."""
    if "tensorflow" in sys.modules and hasattr(sys.modules["tensorflow"], "compat"):
        return sys.modules["tensorflow"]
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _stderr_silenced(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
    else:
        import tensorflow as tf
    return tf
