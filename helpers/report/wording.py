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


def span(values: Iterable[float], fmt: str = ".2f") -> str:
    """'a–b' of some numbers formatted with `fmt`, or 'a' when both ends print the same."""
    values = list(values)
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}–{hi}"


def lists_opened(markdown: str) -> str:
    """A blank line before every bullet list that follows a paragraph line directly: pandoc
    (the PDF) reads such a '- ' line as part of the paragraph and prints the list inline."""
    out: list[str] = []
    in_list = False  # inside a list until a blank line; its continuation lines need no break
    for line in markdown.split("\n"):
        if line.startswith("- ") and not in_list and out and out[-1].strip() and not out[-1].startswith("#"):
            out.append("")
        in_list = line.startswith("- ") or (in_list and bool(line.strip()))
        out.append(line)
    return "\n".join(out)
