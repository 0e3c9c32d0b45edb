"""The bodies of the dataset split editor's endpoint (POST /api/datasets/{name}/split)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from truthloop.core.types import Split

MAX_ITEMS_BY_HAND = 10_000
"""Item ids one change by hand may name: a page's selection, not a dataset."""


class SplitChange(BaseModel):
    """Either a ratio (`train_share`, with `seed`): every item in train or test, stratified by
    label; or by hand: the items `items` into `split`."""

    model_config = ConfigDict(extra="forbid")

    train_share: float | None = Field(default=None, gt=0, le=1)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    items: list[int] | None = Field(default=None, min_length=1, max_length=MAX_ITEMS_BY_HAND)
    split: Split | None = None

    @model_validator(mode="after")
    def one_way(self) -> Self:
        by_ratio = self.train_share is not None
        by_hand = self.items is not None or self.split is not None
        if by_ratio == by_hand:
            raise ValueError("give either train_share (and seed), or items and split")
        if by_hand and (self.items is None or self.split is None):
            raise ValueError("a change by hand needs both items and split")
        return self


class SplitCounts(BaseModel):
    items_per_split: dict[str, int]
