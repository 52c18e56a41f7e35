"""Data: synthesis of low-light images (Algorithm 1, gamma + noise, physical, camera pipeline), the datasets' file
lists and committed splits (LFW, real low-light photos, SICE scenes, CelebA in the wild), training datasets and a
public-domain face for reports."""
