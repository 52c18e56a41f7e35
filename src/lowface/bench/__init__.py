"""The honest benchmark behind ``lowface bench``: does enhancement help people and face recognition?

methods  - every enhancer by name (plus "none" and "clean"), enhanced images cached per method and dataset
faces    - the LFW pairs protocol: alignment, embeddings, verification, identification, detection, landmarks
speed    - milliseconds per megapixel and peak memory, each method in its own process
runner   - one run over methods x datasets -> a JSON-ready record
report   - markdown tables and a self-contained HTML report with image grids and plots
"""
