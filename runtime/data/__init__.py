"""Host data for sym programs: MNIST, minibatches, checkpoints and metrics."""

from runtime.data.errors import DataError
from runtime.data.mnist import Mnist, Split, mnist
from runtime.data.batches import Batches, batches
from runtime.data import checkpoint, images
from runtime.data.metrics import Metrics

__all__ = ["DataError", "Mnist", "Split", "mnist", "Batches", "batches",
           "checkpoint", "images", "Metrics"]
