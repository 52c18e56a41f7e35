"""Data: synthesis of low-light images, dataset file lists, training datasets."""
