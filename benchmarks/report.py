"""What the benchmarks share to print a table: a cell's text and the `--parts` option."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any


def cell(value: Any, spec: str = ".3f") -> str:
    """A table cell: "-" for nothing, a float by `spec`, a list as [a, b], the rest as str."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(cell(v, spec) for v in value) + "]"
    return format(value, spec) if isinstance(value, float) else str(value)


def parts_option(known: Sequence[str]) -> Callable[[str], list[str]]:
    """The `--parts a,b` argument type: names among `known`, refused otherwise."""

    def parts(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names or any(n not in known for n in names):
            raise argparse.ArgumentTypeError(f"parts are among {', '.join(known)}, not {text!r}")
        return names

    return parts
