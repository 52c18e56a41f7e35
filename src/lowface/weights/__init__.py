"""Shipped weights (safetensors) and manifest.json describing them."""
