"""Amazon Augmented AI (A2I) human loop output: written by truthloop's review, read as labels.

Writing (FORMATS.md §2.5): a completed human loop is stored as A2I stores it, at
`output_key(flow, created, loop)` = `<flow>/YYYY/MM/DD/hh/mm/ss/<loop>/output.json` (UTC, the
loop's creation time), holding `output_document(...)`: A2I's custom-task shape, so that a
script written for A2I's S3 output (such as the notebook's `convert_a2i_to_augmented_manifest`,
§4.3) reads truthloop's unchanged. Each `HumanAnswer` becomes one `humanAnswers[]` entry:

    answerContent        the form's output, keyed by element name, as given
    acceptanceTime       when the reviewer took the task  } ISO-8601 UTC with milliseconds
    submissionTime       when they submitted it           } and `Z`: 2020-12-28T18:59:15.191Z
    timeSpentInSeconds   time spent (default: submission − acceptance), 3 decimals
    workerId             the reviewer's truthloop user id (a string)
    workerMetadata       {"identityData": {"identityProviderType": "truthloop",
                          "issuer": <who vouches for the reviewer: the instance's base URL
                          by convention>, "sub": <the reviewer's stable id, default workerId>}}

Names follow A2I's rule for flow definition and human loop names (≤63 characters of `a-z0-9`
and inner `-`), so that a key can never step out of its folder. `flow_arn` and
`human_loop_arn` give ARN-shaped identifiers (`arn:truthloop:sagemaker:local:000000000000:...`)
that ARN parsers such as botocore's split into partition, service, region, account, resource.

Reading (`dataset import --format a2i SOURCE`): SOURCE is one output.json, or a folder walked
recursively (hidden folders left out) for files named `output.json`, read in sorted path order;
AWS's files and truthloop's read alike. Each human answer is a label of the image named by
`inputContent.taskObject` (the key A2I's templates and AWS's samples use; `source-ref` is not
read: no AWS sample puts the image there, and `inputContent.source` is free text in one). An
`s3://` URI is kept as is; a local path or `file://` URI is resolved like a manifest's, a
relative path against the folder of SOURCE, and held to the allowed roots.

- The answer's label is the first `answerContent` value shaped like `crowd-bounding-box` output
  (`boundingBoxes` + `inputImageProperties`: pixel boxes, image size with depth 3, confidence 1
  per box, `initialValueModified` as the adjustment status); failing that, the first shaped
  like a classifier's: `{"label": ...}` (crowd-image-classifier, crowd-classifier) is a
  Classification, `{"labels": [...]}` (multi-select) a MultiLabel, confidence 1 each, as a
  person's answer. `element=` names the value to read instead. Content in neither shape is
  refused (it is no task truthloop reads labels from: name the element).
- Provenance as the notebook writes it: attribute `a2i-retraining` (`attribute=`; the import's
  `label_attribute`), job name `a2i/<humanLoopName>`, a person's label (`human-annotated: yes`),
  created at the answer's `submissionTime`; the worker id and time spent are kept too.
- "None of the Above" (`none_label=`, compared case-insensitively) is never a class: it is
  taken out of any answer (a label, a list entry, a box so labeled), and an answer it leaves
  with nothing is skipped and counted (`counts.none_of_the_above`). An answer with no content
  (no, a null or an empty `answerContent`, a null or blank classifier label, an empty label
  list) is skipped and counted
  (`counts.empty`). A box answer with no boxes is not empty: it says that the image holds none
  of the objects asked for, which a detector must learn as much as any box.
- Several answers for one image (TaskCount > 1, or the image reviewed in several loops): the
  importer refuses an image twice in one import, and a dataset's label under an attribute is
  its newest annotation, so the reader yields one record per image whose label is the answer
  submitted last (ties: the later file, the later answer). No answer is lost: each other one
  is kept in that label's metadata under `a2i-superseded-answers`, as
  `{"job-name", "worker-id", "creation-date", "answer-content"}` (its whole `answerContent`, as
  A2I wrote it), which a Ground Truth manifest carries through; `counts.superseded` says how
  many.
  Skipped answers never replace a label. Records come in the order their image first appears.
- A file that cannot be read as A2I output (not JSON, no `humanAnswers`, a box with a
  non-numeric or negative side, a control character in a label, a `taskObject` leading
  outside the allowed roots, an answer with content in no shape truthloop reads...) is
  refused whole, as a FormatError (or UnsafePath) naming the file and the field; with
  `on_error` reading goes on with the next file.

`counts` (an `A2ICounts`) holds the files, answers and images read and what was skipped; from
`open_reader` it is `reader.reader.counts` (open_reader wraps every reader in the text check).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from truthloop.core.text import label_problem, text_problem
from truthloop.core.types import (
    Annotation,
    Boxes,
    Classification,
    ImageRecord,
    ImageSize,
    LabelSet,
    MultiLabel,
    Source,
    Value,
    label_names,
)
from truthloop.errors import FormatError, InputError, InvalidName
from truthloop.formats import validate
from truthloop.formats.base import ErrorHandler, report
from truthloop.formats.gt_annotations import check_attribute
from truthloop.formats.paths import LocalResolver, is_remote

DEFAULT_ATTRIBUTE = "a2i-retraining"
NONE_OF_THE_ABOVE = "None of the Above"
OUTPUT_NAME = "output.json"
IDENTITY_PROVIDER = "truthloop"
SUPERSEDED_KEY = "a2i-superseded-answers"
MAX_OUTPUT_BYTES = 32 * 1024 * 1024
_ARN_PREFIX = "arn:truthloop:sagemaker:local:000000000000:"
# A2I's FlowDefinitionName and HumanLoopName: lowercase letters, digits, inner hyphens.
_NAME = re.compile(r"[a-z0-9](-*[a-z0-9])*")
_NAME_MAX = 63

# --- writing ---------------------------------------------------------------------------------


def _checked_name(kind: str, name: str) -> str:
    if len(name) > _NAME_MAX or not _NAME.fullmatch(name):
        raise InvalidName(
            f"{kind} name {name!r} must be 1-{_NAME_MAX} characters of a-z, 0-9 and '-',"
            " starting and ending with a letter or digit"
        )
    return name


def flow_arn(flow_name: str) -> str:
    """The ARN-shaped identifier of a flow definition (`arn:partition:service:region:...`)."""
    return f"{_ARN_PREFIX}flow-definition/{_checked_name('flow definition', flow_name)}"


def human_loop_arn(loop_name: str) -> str:
    """The ARN-shaped identifier of a human loop."""
    return f"{_ARN_PREFIX}human-loop/{_checked_name('human loop', loop_name)}"


def _utc(when: datetime) -> datetime:
    """`when` in UTC; a naive time is taken to be UTC already (as truthloop's tables keep it)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def output_key(flow_name: str, created: datetime, loop_name: str) -> str:
    """Where A2I puts a loop's output under the flow's S3OutputPath (FORMATS.md §2.5)."""
    stamp = _utc(created).strftime("%Y/%m/%d/%H/%M/%S")
    flow = _checked_name("flow definition", flow_name)
    return f"{flow}/{stamp}/{_checked_name('human loop', loop_name)}/{OUTPUT_NAME}"


def timestamp(when: datetime) -> str:
    """A2I's time format: ISO-8601 UTC with milliseconds and `Z` (2020-12-28T18:59:15.191Z)."""
    return _utc(when).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@dataclass(frozen=True, slots=True)
class HumanAnswer:
    """One reviewer's answer to a human loop, as `output_document` writes it.

    `content` is the task form's output keyed by element name (`{"annotatedResult":
    {"boundingBoxes": [...], "inputImageProperties": {...}}}`). `seconds` is the time spent,
    by default the time between acceptance and submission. `issuer` says who vouches for the
    reviewer (the truthloop instance's base URL, by convention) and `sub` is their stable id in
    it (by default `worker_id`).
    """

    content: Mapping[str, Any]
    worker_id: str
    accepted_at: datetime
    submitted_at: datetime
    seconds: float | None = None
    issuer: str = IDENTITY_PROVIDER
    sub: str | None = None

    def to_json(self) -> dict[str, Any]:
        seconds = self.seconds
        if seconds is None:
            seconds = (_utc(self.submitted_at) - _utc(self.accepted_at)).total_seconds()
        return {
            "acceptanceTime": timestamp(self.accepted_at),
            "answerContent": dict(self.content),
            "submissionTime": timestamp(self.submitted_at),
            "timeSpentInSeconds": round(max(float(seconds), 0.0), 3),
            "workerId": self.worker_id,
            "workerMetadata": {
                "identityData": {
                    "identityProviderType": IDENTITY_PROVIDER,
                    "issuer": self.issuer,
                    "sub": self.sub if self.sub is not None else self.worker_id,
                }
            },
        }


def output_document(
    *,
    flow_arn: str,
    loop_name: str,
    input_content: Mapping[str, Any],
    answers: Sequence[HumanAnswer],
    activation_results: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A completed loop's output.json in A2I's custom-task shape (FORMATS.md §2.5).

    `input_content` is what the loop was started with; `activation_results` (the activation
    conditions evaluated, `{"Conditions": [...]}`), when given, goes in as
    `inputContent.humanTaskActivationConditionResults`, where A2I puts it.
    """
    content = dict(input_content)
    if activation_results is not None:
        content["humanTaskActivationConditionResults"] = dict(activation_results)
    return {
        "flowDefinitionArn": flow_arn,
        "humanAnswers": [answer.to_json() for answer in answers],
        "humanLoopName": _checked_name("human loop", loop_name),
        "inputContent": content,
    }


# --- reading ---------------------------------------------------------------------------------


@dataclass
class A2ICounts:
    """What a read found: files and answers read, images yielded, answers not used."""

    files: int = 0
    answers: int = 0
    images: int = 0
    none_of_the_above: int = 0
    empty: int = 0
    superseded: int = 0

    @property
    def skipped(self) -> int:
        return self.none_of_the_above + self.empty

    def summary(self) -> str:
        return (
            f"{self.files} A2I output files, {self.answers} answers: {self.images} images"
            f" labeled, {self.none_of_the_above} 'None of the Above' and {self.empty} empty"
            f" answers skipped, {self.superseded} superseded by a later answer"
        )


@dataclass(frozen=True)
class _Loop:
    """One output file: the human loop, the image it reviewed, and its place in the read."""

    name: str
    uri: str
    path: Path
    number: int


@dataclass(frozen=True)
class _Answer:
    """One usable answer, and what orders it among the answers for the same image."""

    loop: _Loop
    number: int
    value: Value
    size: ImageSize | None
    worker: str | None
    submitted: datetime
    seconds: float | None
    content: Any

    @property
    def order(self) -> tuple[datetime, int, int]:
        return self.submitted, self.loop.number, self.number

    def superseded(self) -> dict[str, Any]:
        return {
            "job-name": f"a2i/{self.loop.name}",
            "worker-id": self.worker,
            "creation-date": timestamp(self.submitted),
            "answer-content": self.content,
        }


def _line_text(value: Any, what: str) -> str:
    text = validate.text(value, what)
    problem = text_problem(what, text)
    if problem:
        raise FormatError(problem)
    return text


def _label(value: Any, what: str) -> str:
    label = validate.text(value, what)
    problem = label_problem(label, what)
    if problem:
        raise FormatError(problem)
    return label


def _time(value: Any, what: str) -> datetime:
    text = validate.text(value, what)
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        raise FormatError(f"{what} is not an ISO date and time: {validate.show(value)}") from None


def _dimension(value: Any, what: str) -> int:
    number = validate.integer(value, what)
    if number <= 0:
        raise FormatError(f"{what} must be a positive number of pixels, not {number}")
    return number


@dataclass(frozen=True)
class _Reading:
    """How answers are read: which element, and what a reviewer writes for none of them."""

    element: str | None
    none_label: str

    def is_none(self, label: str) -> bool:
        return label.strip().casefold() == self.none_label.strip().casefold()

    def chosen(self, content: dict[str, Any], what: str) -> tuple[str, Any] | None:
        """The element read as the answer's label, or None when there is no content at all."""
        if not content:
            return None
        if self.element is not None:
            if self.element not in content:
                raise FormatError(
                    f"{what} has no element {self.element!r} (it has {', '.join(content)})"
                )
            return self.element, content[self.element]
        for shape in ("boundingBoxes", "label"):
            for name, value in content.items():
                if isinstance(value, dict) and (
                    shape in value or (shape == "label" and "labels" in value)
                ):
                    return name, value
        raise FormatError(
            f"{what} holds no crowd-bounding-box or classifier output (keys: "
            f"{', '.join(map(repr, content))}); name the element to read"
        )

    def value(self, output: Any, what: str) -> tuple[Value | None, ImageSize | None, bool]:
        """(label, image size, whether None of the Above was all it said); no label = empty."""
        output = validate.mapping(output, what)
        if "boundingBoxes" in output:
            return self._boxes(output, what)
        if "label" in output:
            label = output["label"]
            if label is None or (isinstance(label, str) and not label.strip()):
                return None, None, False
            label = _label(label, f"{what}.label")
            if self.is_none(label):
                return None, None, True
            return Classification(label, 1.0), None, False
        if "labels" in output:
            given = validate.array(output["labels"], f"{what}.labels")
            labels = [_label(x, f"{what}.labels[{n}]") for n, x in enumerate(given)]
            kept = tuple(dict.fromkeys(x for x in labels if not self.is_none(x)))
            if not kept:
                return None, None, bool(labels)
            return MultiLabel(kept, (1.0,) * len(kept)), None, False
        raise FormatError(f"{what} has none of boundingBoxes, label, labels")

    def _boxes(self, output: dict[str, Any], what: str) -> tuple[Boxes | None, ImageSize, bool]:
        props = validate.mapping(output.get("inputImageProperties"), f"{what}.inputImageProperties")
        size = ImageSize(
            _dimension(props.get("width"), f"{what}.inputImageProperties.width"),
            _dimension(props.get("height"), f"{what}.inputImageProperties.height"),
            3,
        )
        items = validate.array(output["boundingBoxes"], f"{what}.boundingBoxes")
        boxes = []
        for n, item in enumerate(items):
            at = f"{what}.boundingBoxes[{n}]"
            item = validate.mapping(item, at)
            label = _label(item.get("label"), f"{at}.label")
            left, top = item.get("left"), item.get("top")
            box = validate.box(label, left, top, item.get("width"), item.get("height"), at, 1.0)
            if not self.is_none(label):
                boxes.append(box)
        if items and not boxes:
            return None, size, True
        modified = output.get("initialValueModified")
        adjusted = modified if isinstance(modified, bool) else None
        return Boxes(tuple(boxes), adjusted), size, False


class A2IReader:
    """Reads A2I output files (one, or a folder of them) as one ImageRecord per image."""

    def __init__(
        self,
        source: Path | str,
        *,
        attribute: str = DEFAULT_ATTRIBUTE,
        element: str | None = None,
        none_label: str = NONE_OF_THE_ABOVE,
        on_error: ErrorHandler | None = None,
        allowed_roots: Sequence[Path] = (),
    ) -> None:
        check_attribute(attribute)
        self.path = Path(source)
        self.attribute = attribute
        self.on_error = on_error
        self.label_set = LabelSet({})
        self.location = str(self.path)
        self.counts = A2ICounts()
        self._reading = _Reading(element, none_label)
        base = self.path.absolute()
        self._root = base if base.is_dir() else base.parent
        self._resolve = LocalResolver(self._root, allowed_roots)

    def files(self) -> list[Path]:
        """The output files read: the source itself, or every output.json below it, sorted."""
        if not self.path.is_dir():
            return [self.path]
        found = []
        for folder, dirs, names in os.walk(self.path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [Path(folder, name) for name in names if name == OUTPUT_NAME]
        return sorted(found, key=lambda p: p.relative_to(self.path).parts)

    def __iter__(self) -> Iterator[ImageRecord]:
        self.counts = counts = A2ICounts()
        by_image: dict[str, list[_Answer]] = {}
        for number, path in enumerate(self.files()):
            try:
                answers = self._read(path, number)
            except InputError as error:
                report(error.at(str(path)), self.on_error)
                continue
            counts.files += 1
            for answer in answers:
                by_image.setdefault(answer.loop.uri, []).append(answer)
        for uri, answers in by_image.items():
            answers.sort(key=lambda a: a.order)
            *earlier, latest = answers
            counts.superseded += len(earlier)
            counts.images += 1
            metadata = {SUPERSEDED_KEY: [a.superseded() for a in earlier]} if earlier else {}
            annotation = Annotation(
                latest.value,
                source=Source.HUMAN,
                attribute=self.attribute,
                job_name=f"a2i/{latest.loop.name}",
                created_at=latest.submitted,
                worker=latest.worker,
                seconds=latest.seconds,
                metadata=metadata,
            )
            for label in label_names(latest.value):
                self.label_set = self.label_set.with_label(label)
            self.location = str(latest.loop.path)
            yield ImageRecord(uri, latest.size, (annotation,))

    def _document(self, path: Path) -> dict[str, Any]:
        if path.is_dir():
            raise FormatError("is a folder, not an A2I output file")
        if path != self.path:  # found in the folder: it must not lead out of the roots
            path = Path(self._resolve(str(path.relative_to(self.path))))
        if path.stat().st_size > MAX_OUTPUT_BYTES:
            raise FormatError(f"the file is larger than {MAX_OUTPUT_BYTES} bytes")
        try:
            doc = orjson.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError as exc:
            raise FormatError(f"not valid JSON: {exc}") from None
        return validate.mapping(doc, "the A2I output")

    def _uri(self, content: dict[str, Any]) -> str:
        ref = _line_text(content.get("taskObject"), "inputContent.taskObject")
        return ref if is_remote(ref) else self._resolve(ref)

    def _read(self, path: Path, number: int) -> list[_Answer]:
        """The usable answers of one file; nothing is counted unless the whole file is read."""
        doc = self._document(path)
        name = _line_text(doc.get("humanLoopName"), "humanLoopName")
        given = validate.array(doc.get("humanAnswers"), "humanAnswers")
        uri = self._uri(validate.mapping(doc.get("inputContent"), "inputContent"))
        loop = _Loop(name, uri, path, number)
        answers: list[_Answer] = []
        none_of_the_above = empty = 0
        for n, raw in enumerate(given):
            answer = self._answer(loop, n, validate.mapping(raw, f"humanAnswers[{n}]"))
            if isinstance(answer, _Answer):
                answers.append(answer)
            elif answer == "none":
                none_of_the_above += 1
            else:
                empty += 1
        self.counts.answers += len(given)
        self.counts.none_of_the_above += none_of_the_above
        self.counts.empty += empty
        return answers

    def _answer(self, loop: _Loop, n: int, raw: dict[str, Any]) -> _Answer | str:
        """One answer read; "none" (None of the Above) or "empty" for one that is skipped."""
        what = f"humanAnswers[{n}]"
        submitted = _time(raw.get("submissionTime"), f"{what}.submissionTime")
        if raw.get("acceptanceTime") is not None:
            _time(raw["acceptanceTime"], f"{what}.acceptanceTime")
        worker = raw.get("workerId")
        worker = None if worker is None else _line_text(worker, f"{what}.workerId")
        seconds = raw.get("timeSpentInSeconds")
        if seconds is not None:
            seconds = validate.number(seconds, f"{what}.timeSpentInSeconds")
            if seconds < 0:
                raise FormatError(f"{what}.timeSpentInSeconds must not be negative, not {seconds}")
        content = raw.get("answerContent")
        content = {} if content is None else validate.mapping(content, f"{what}.answerContent")
        chosen = self._reading.chosen(content, f"{what}.answerContent")
        if chosen is None:
            return "empty"
        name, output = chosen
        value, size, nothing_else = self._reading.value(output, f"{what}.answerContent.{name}")
        if value is None:
            return "none" if nothing_else else "empty"
        return _Answer(loop, n, value, size, worker, submitted, seconds, content)
