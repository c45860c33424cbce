"""``python -m fdcheck``: the command line."""
from .cli import main

main(prog_name="fdcheck")
