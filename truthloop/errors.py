"""Every error truthloop raises on purpose, so a caller can catch what it can act on.

    TruthloopError                  base of everything below; str() says what and where
    ├── ConfigError                 a setting or project home is missing or invalid
    ├── NotFound                    a named dataset, item, model version... does not exist
    ├── AlreadyExists               a name is taken
    │   └── Conflict                a stored row already holds what a batch adds (the same
    │                               image twice); nothing of the batch was stored
    ├── PermissionDenied            the user may not see or do this (another team's task...)
    │   └── CsrfRejected            a portal form posted without the page's CSRF token
    ├── NotSignedIn                 no valid session or API token: pages go to the sign-in form,
    │                               the API answers 401
    ├── LeaseExpired                a task's lease ran out and someone else submitted that slot
    ├── JobsNotDone                 collecting labels before every task is answered (`missing`)
    ├── InvalidName                 a dataset/job/... name with path tricks or odd characters
    ├── InputError                  bad input from a user's file, request or image
    │   ├── FormatError             a manifest/annotation file is malformed (file, line)
    │   ├── UnknownFormat           a format name truthloop does not read, or does not write
    │   ├── InvalidAttribute        a label attribute name Ground Truth would refuse
    │   ├── NotWritable             a record the chosen format cannot hold (two annotations to
    │   │                           choose from, a label no folder can be named, no image size)
    │   ├── UnsafePath              a path or URI leads outside the allowed roots
    │   ├── ImageError              an image is corrupt, truncated, empty, not an image, or too big
    │   ├── UnknownLabel            a label that is not in the label set
    │   ├── BoxOutsideImage         a box with nothing left inside the image
    │   └── DuplicateImage          the same image (content hash or URI) twice in one dataset
    ├── ImportAborted               an import stopped on its first error; nothing was stored
    ├── ExportError                 an export stopped at an item (`item`) it cannot write
    ├── TrainingError               training cannot start: no labels, one class, too few images
    └── ModelError                  a model cannot do what was asked, or its file/server is bad
        └── ModelNotRunning         detect on a model version that is not started (RUNNING)

Errors that concern one line of one file carry `path` and `line` (1-based) so the message can
say exactly where to look.
"""

from __future__ import annotations


class TruthloopError(Exception):
    """Base of every error truthloop raises on purpose."""


class ConfigError(TruthloopError):
    pass


class NotFound(TruthloopError):
    pass


class AlreadyExists(TruthloopError):
    pass


class Conflict(AlreadyExists):
    """A row broke a unique constraint (the same image twice); nothing of the batch was stored.
    The importer catches it to find which images were already there."""


class InvalidName(TruthloopError):
    pass


class JobsNotDone(TruthloopError):
    """Labels were asked of jobs with tasks still unanswered; `missing` names each one."""

    def __init__(self, message: str, *, missing: list[str]):
        self.missing = missing
        super().__init__(message)


class PermissionDenied(TruthloopError):
    """The user is not allowed this: a job of a team they are not in, a task leased to another."""


class CsrfRejected(PermissionDenied):
    """A state-changing request made with the session cookie but without its CSRF token."""


class NotSignedIn(TruthloopError):
    """No valid session or API token; pages redirect to the sign-in form, the API answers 401."""


class LeaseExpired(TruthloopError):
    """A submit came after the task's lease ran out and another worker has answered that slot."""


class InputError(TruthloopError):
    """Bad input; `where` says which file and line (or item) it came from, when known."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self._render())

    @property
    def where(self) -> str:
        if self.path and self.line:
            return f"{self.path}:{self.line}"
        return self.path or (f"line {self.line}" if self.line else "")

    def at(self, path: str | None = None, line: int | None = None) -> InputError:
        """The same error located at `path`/`line` (keeps what is already known)."""
        self.path = self.path or path
        self.line = self.line or line
        self.args = (self._render(),)
        return self

    def within(self, field: str) -> InputError:
        """The same error with `field` put before the message, for checks that name a part
        relative to a field and leave the (costly to format) full name to the rare failure."""
        self.message = field + self.message
        self.args = (self._render(),)
        return self

    def _render(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keeps the parts apart across processes (an import reads in a child process).
        return (_located, (type(self), self.message, self.path, self.line))


def _located(
    kind: type[InputError], message: str, path: str | None, line: int | None
) -> InputError:
    return kind(message, path=path, line=line)


class FormatError(InputError):
    pass


class UnknownFormat(InputError):
    """A format name that is not one of formats.READ_FORMATS (or WRITE_FORMATS)."""


class InvalidAttribute(InputError):
    """A label attribute name Ground Truth would refuse (FORMATS.md §1.1)."""


class NotWritable(InputError):
    """A record the chosen format cannot hold as it is; an export names the item and writes
    nothing."""


class UnsafePath(InputError):
    pass


class ImageError(InputError):
    pass


class UnknownLabel(InputError):
    pass


class BoxOutsideImage(InputError):
    pass


class DuplicateImage(InputError):
    pass


class ImportAborted(TruthloopError):
    """The import stopped at `error`; the database is exactly as it was before."""

    def __init__(self, error: InputError):
        self.error = error
        super().__init__(
            f"{error} — nothing was imported (to import the rest: --on-error skip, or"
            " on_error=skip over the API)"
        )


class ExportError(TruthloopError):
    """An export stopped: `item` (a URI) is the record the format could not hold or whose image
    could not be read, None when the failure concerns the destination itself."""

    def __init__(self, message: str, *, item: str | None = None):
        self.item = item
        super().__init__(message)


class TrainingError(TruthloopError):
    """Training was refused before any work started; the message says what the data lacks."""


class ModelError(TruthloopError):
    """A model backend cannot do what was asked (an HTTP model server answered badly, a model
    file is not one truthloop wrote, an inference-only model was asked to train)."""


class ModelNotRunning(ModelError):
    """Detect was asked of a model version that is not RUNNING; the message says how to start it."""
