"""Small words of generated prose: counts with their nouns, lists joined as a sentence would."""
from __future__ import annotations

from typing import Iterable


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 epoch', '2 epochs' ('1 mode', '3 modes'); `plural` for irregular nouns."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def noun(n: int, singular: str, plural: str | None = None) -> str:
    """The noun alone, in the number `n` asks for: 'mode' or 'modes'."""
    return singular if n == 1 else plural or singular + "s"


def joined(items: Iterable[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}" if items else ""
