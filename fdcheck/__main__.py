"""``python -m fdcheck``: the command line."""
from .cli import entry

entry()
