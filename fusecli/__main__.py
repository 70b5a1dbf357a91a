"""``python -m fusecli`` (and ``torchrun -m fusecli train ...``)."""

from fusecli.cli.main import cli

cli(prog_name="fusecli")
