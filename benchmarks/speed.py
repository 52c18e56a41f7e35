"""Speed and cost of every enhancer: parameters, GMACs, ms per megapixel and peak memory at three sizes.

Usage: python benchmarks/speed.py [--out benchmarks/results/speed.json] [--threads 1 2] [--repeats 3]
The full-resolution network is timed on a 600x400 image and on one 1080p tile row is extrapolated? No:
every size is timed for real; use --sizes to choose. Results are written as JSON and a markdown table.
"""
