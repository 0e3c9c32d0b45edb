"""The public surface is listed once, in truthloop.__all__, sorted and importable."""

import ast
from pathlib import Path

import truthloop


def test_all_is_sorted_and_every_name_exists() -> None:
    assert truthloop.__all__ == sorted(truthloop.__all__)
    for name in truthloop.__all__:
        assert getattr(truthloop, name) is not None


def test_every_public_name_is_exported() -> None:
    public = {n for n in dir(truthloop) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(truthloop, n)).__name__ == "module"}
    assert public - modules == set(truthloop.__all__)


def test_the_lazy_names_are_the_ones_type_checkers_see() -> None:
    """`truthloop` imports its public names on first use (`_LAZY`); type checkers read the
    `if TYPE_CHECKING:` imports instead. Both must say the same."""
    tree = ast.parse(Path(truthloop.__file__).read_text(encoding="utf-8"))
    [block] = [n for n in tree.body if isinstance(n, ast.If)]
    seen = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == truthloop._LAZY
    assert sorted(seen) == truthloop.__all__
