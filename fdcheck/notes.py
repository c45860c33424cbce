"""Notes: what a check says beside its verdict, as a kind and its fields.

Notes are data here; :func:`fdcheck.report.note_text` is the one place that
words them (every kind has its sentence there, and a test holds that).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Note:
    """One note: its ``kind`` (``noisy``, ``refined``, ``kink``...) and the
    fields its sentence is made of.

    Attributes
    ----------
    kind : str
    fields : tuple of (name, value)
    """

    kind: str
    fields: tuple[tuple[str, Any], ...] = ()

    def __getitem__(self, name: str) -> Any:
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


def note(kind: str, **fields: Any) -> Note:
    """A :class:`Note` of ``kind`` with ``fields``."""
    return Note(kind, tuple(fields.items()))
