"""The public surface is listed once, in truthloop.__all__, sorted and importable."""

import truthloop


def test_all_is_sorted_and_every_name_exists() -> None:
    assert truthloop.__all__ == sorted(truthloop.__all__)
    for name in truthloop.__all__:
        assert getattr(truthloop, name) is not None


def test_every_public_name_is_exported() -> None:
    public = {n for n in vars(truthloop) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(truthloop, n)).__name__ == "module"}
    assert public - modules == set(truthloop.__all__)
