"""What every reader shares: its protocol, and what happens to a bad line or item."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from truthloop.core.types import Annotation, Box, Boxes, ImageRecord, LabelSet, Source
from truthloop.errors import InputError
from truthloop.formats.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from truthloop.formats.paths import LocalResolver

ErrorHandler = Callable[[InputError], None]
"""Called with each bad line or item, after which reading goes on; None => raise the first."""


class Reader(Protocol):
    @property
    def label_set(self) -> LabelSet:
        """The classes seen so far, with the ids the file used."""

    @property
    def location(self) -> str:
        """Where the record yielded last came from ("manifest:12", an XML file, an image...),
        so that an error found in it later, such as a corrupt image, can say where to look."""

    def __iter__(self) -> Iterator[ImageRecord]: ...


def report(error: InputError, on_error: ErrorHandler | None) -> None:
    """Hand `error` to `on_error`, or raise it when there is none."""
    if on_error is None:
        raise error
    on_error(error)


def boxes_annotation(boxes: list[Box]) -> Annotation:
    """The annotation of a box format's image: a model's when every box has a score.

    COCO, VOC and YOLO do not say who drew a box; a score is the one sign of a prediction.
    """
    model = bool(boxes) and all(b.confidence is not None for b in boxes)
    return Annotation(Boxes(tuple(boxes)), source=Source.MODEL if model else Source.HUMAN)


class FolderReader:
    """What the readers of a folder of images share: the root, path safety and image limits.

    `root_of` picks the folder from what the user named (YOLO also takes a file inside it).
    """

    def __init__(
        self,
        source: Path | str,
        *,
        on_error: ErrorHandler | None = None,
        allowed_roots: Sequence[Path] = (),
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.root = self.root_of(Path(source).absolute())
        self.on_error = on_error
        self.max_pixels, self.max_bytes = max_pixels, max_bytes
        self.label_set = LabelSet({})
        self.location = str(self.root)
        self._resolve = LocalResolver(self.root, allowed_roots)

    @staticmethod
    def root_of(source: Path) -> Path:
        return source
