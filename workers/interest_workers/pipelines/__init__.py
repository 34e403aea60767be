"""Pure pipelines: arrays and tensors in, arrays and tensors out (no I/O)."""
