"""``python -m proxgan …``: the ``proxgan`` command where its console script is not installed (e.g. ``PYTHONPATH=src``)."""

from proxgan.cli import main

main(prog_name="proxgan")
