"""Training: configs, the resumable trainer, checkpoints."""
