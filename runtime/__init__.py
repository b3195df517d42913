"""Runtime support for sym: backends and host data (MNIST, batches, checkpoints, metrics)."""
