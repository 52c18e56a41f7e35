"""Image-quality and face metrics."""
