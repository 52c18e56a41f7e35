"""The honest benchmark behind ``lowface bench``: does enhancement help people and face recognition?

methods     - every enhancer by name (plus "none" and "clean"), enhanced images cached per method and dataset
faces       - the LFW pairs protocol: alignment, embeddings, verification, identification, detection, landmarks
real_pairs  - SICE's real under-exposed frames against their scene's reference; faces found and invented
speed       - milliseconds per megapixel and peak memory, each method in its own process
rows        - one row's figures from images (fidelity, no-reference quality, recovery, false matches)
cache       - rows and arrays read back from the cache folder when a run already wrote them
wild        - faces in the wild: the CelebA test people, identification and false matches end to end
runner      - one run over methods x datasets -> a JSON-ready record
tables      - which figures each table shows (directions from the metrics registry) and the best of each column
plots       - image grids, metric plots and failure cases as PNG / JPEG bytes
figures     - the report's figures from a finished run
report      - provenance, markdown tables, the self-contained HTML report and the files ``lowface bench`` writes
score       - ``lowface score``: the same metrics on a user's folder
"""
