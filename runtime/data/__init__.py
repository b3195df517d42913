"""Host data for sym programs: MNIST, minibatches, checkpoints, metrics and images."""

from runtime.data.errors import DataError
from runtime.data.mnist import Mnist, Split, mnist
from runtime.data.batches import Batches, batches
from runtime.data import checkpoint
from runtime.data.metrics import Metrics
from runtime.data import tiles

__all__ = ["DataError", "Mnist", "Split", "mnist", "Batches", "batches",
           "checkpoint", "Metrics", "tiles"]
