"""``python -m lowface.cli`` (e.g. under torchrun: ``torchrun --nproc_per_node 2 -m lowface.cli train -c CONFIG``)."""

from lowface.cli import main

main()
