"""Worker task templates: A2I's "human task UI", rendered for one task.

A template is HTML + Liquid + Crowd HTML Elements, as A2I and Ground Truth custom tasks write
them (FORMATS.md §1.8, §2.2): every top-level key of the loop's input is `task.input.<key>`,
and `task` is the only name a template is given. Rendering uses python-liquid 2 with:

- autoescape on (markupsafe): every value is HTML-escaped on output unless a filter marks it
  safe, as A2I does ("inputs are HTML-escaped by default"). In an attribute the quotes become
  `&#34;`/`&#39;`, which the browser turns back into quotes when it reads the attribute.
- lenient `Undefined`: a missing key renders as nothing, loops over it run zero times and it
  is false in `{% if %}`. A2I templates read optional keys (`task.input.initialValue` only for
  an adjustment task), and a worker's page must not fail for an absent one; `preview` reports
  references to keys the sample input lacks, so a manager still sees a misspelt key.
- A2I's extra filters: `grant_read_access`, `to_json`, `escape`, `escape_once`,
  `skip_autoescape`. `escape` is python-liquid's own (with autoescape on it returns markupsafe
  markup, so it does not escape twice); `escape_once` is replaced, see `_escape_once`.

The page loads Crowd HTML Elements from truthloop (`CROWD_ELEMENTS_URL`), not from AWS: the
task frame's Content-Security-Policy allows only truthloop's own scripts, so A2I's loader line
is rewritten and other external scripts and stylesheets are reported (`external_references`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from html import escape as html_escape
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import urlsplit

from liquid import BoundTemplate, Environment, Markup, Token, Undefined, is_undefined
from liquid.exceptions import FilterArgumentError, LiquidError
from liquid.filter import string_filter
from liquid.static_analysis import TemplateAnalysis
from liquid.stringify import to_liquid_string

from truthloop.core.text import TEXT, character_name, shown
from truthloop.errors import InputError

MAX_TEMPLATE_CHARS = 128_000
"""A2I's limit on `UiTemplate.Content` (CreateHumanTaskUi), kept so a template that works here
can be uploaded there, and so a template cannot make every render slow."""

CROWD_ELEMENTS_URL = "/static/crowd/crowd-html-elements.js"
"""truthloop's own copy of Crowd HTML Elements, which A2I's loader line is rewritten to."""

CROWD_LOADER_HOST = "assets.crowd.aws"
CROWD_LOADER_PATH = "/crowd-html-elements.js"

_NO_PARTIALS = frozenset({"include", "render"})
"""Tags that load another template: a task UI is one document, there is nothing to load."""

# The grant callback of the render in progress; a ContextVar rather than a global so that
# renders in other threads or tasks each see their own.
_GRANT: ContextVar[Callable[[str], str] | None] = ContextVar("review_grant", default=None)


class _TaskEnvironment(Environment):
    """python-liquid's Environment with limits on what one render may cost (a template is
    written by a manager, and rendered on every task a worker opens) and syntax errors that
    always carry a position."""

    loop_iteration_limit: ClassVar[int | None] = 100_000
    output_stream_limit: ClassVar[int | None] = 8 * 1024 * 1024
    local_namespace_limit: ClassVar[int | None] = 8 * 1024 * 1024

    def error(
        self,
        exc: type[LiquidError] | LiquidError,
        msg: str | None = None,
        token: Token | None = None,
    ) -> None:
        # An error raised inside an expression carries the expression's end-of-input token,
        # which has no position (start_index -1); the parser passes the statement's token
        # here, which does.
        if isinstance(exc, LiquidError) and _has_position(token) and not _has_position(exc.token):
            exc.token = token
        super().error(exc, msg, token)


def _has_position(token: object) -> bool:
    return getattr(token, "start_index", -1) >= 0


@string_filter
def _escape_once(value: str) -> Markup:
    """Escape `value`, leaving the entities already in it alone (`&amp;` stays `&amp;`).

    python-liquid's own `escape_once`, with autoescape on, returns the *unescaped* text and
    leaves escaping to the output statement: right in `{{ x | escape_once }}`, raw HTML in
    `{{ x | escape_once | skip_autoescape }}`. This one returns the escaped text, marked safe.
    """
    return Markup(_SPECIAL_NOT_ENTITY.sub(lambda m: _ESCAPES[m.group()], value))


# As markupsafe (autoescape) writes them, so a page escapes alike wherever the text came from.
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}
# `&` that does not start an entity, and the other characters HTML gives meaning to.
_SPECIAL_NOT_ENTITY = re.compile(
    r"&(?!(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);)|[<>\"']"
)


def _skip_autoescape(value: object) -> Markup:
    # A2I's documented opt-out: the value is HTML the template author vouches for. Values
    # from a loop's input reach the worker's page unescaped, hence the XSS warning in its docs.
    return Markup(to_liquid_string(value, autoescape=False))


_JSON_IN_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _to_json(value: object) -> str:
    """JSON text of `value`. Returned as plain text, so autoescape escapes its quotes for the
    attribute it stands in; `<`, `>` and `&` are also written as `\\u003c`... escapes, which
    mean the same in JSON, so that even with `skip_autoescape` in a `<script>` block a string
    holding `</script>` cannot end the block."""
    try:
        text = json.dumps(value, default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise FilterArgumentError(
            f"to_json cannot write {_described(value)}: {err}", token=None
        ) from err
    return text.translate(_JSON_IN_HTML)


def _json_default(value: object) -> object:
    if isinstance(value, Undefined):
        return None
    if isinstance(value, range):  # Liquid's (1..3)
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _grant_read_access(value: object) -> str:
    """The URL the render's grant callback gives for `value` (a URI), as plain text so that
    autoescape writes its `&` as `&amp;` in the attribute."""
    grant = _GRANT.get()
    if grant is None:
        raise FilterArgumentError("grant_read_access: this render has no grant", token=None)
    if not isinstance(value, str) or not value:
        raise FilterArgumentError(
            f"grant_read_access needs a URI, got {_described(value)}", token=None
        )
    # Liquid attaches the statement's position only to its own errors, FilterArgumentError
    # among them, so the refusal is passed on as one.
    try:
        return str(grant(str(value)))
    except InputError as err:
        raise FilterArgumentError(
            f"grant_read_access refused {shown(value)}: {err}", token=None
        ) from err


def _described(value: object) -> str:
    if is_undefined(value):
        return f"nothing ({getattr(value, 'name', 'a name')} is not defined)"
    if isinstance(value, str):
        return shown(value)
    return f"a {type(value).__name__}"


def _environment() -> _TaskEnvironment:
    env = _TaskEnvironment(autoescape=True, undefined=Undefined, strict_filters=True)
    env.add_filter("grant_read_access", _grant_read_access)
    env.add_filter("to_json", _to_json)
    env.add_filter("escape_once", _escape_once)
    env.add_filter("skip_autoescape", _skip_autoescape)
    return env


_ENV = _environment()


def check_template(source: str) -> None:
    """Refuse (InputError, with the line) a template that is too long, holds a control
    character, has a Liquid syntax error, uses a filter truthloop does not have or a tag that
    loads another template."""
    _checked(source)


@functools.lru_cache(maxsize=64)
def _checked(source: str) -> BoundTemplate:
    # A loop renders the same template for every task; parsing it once is enough. Errors
    # are not cached, so a refused template is checked again each time (and refused again).
    if len(source) > MAX_TEMPLATE_CHARS:
        raise InputError(
            f"a template may hold at most {MAX_TEMPLATE_CHARS:,} characters (A2I's limit for"
            f" a human task UI); this one has {len(source):,}"
        )
    if (found := TEXT.value.search(source)) is not None:
        raise InputError(
            f"the template contains {character_name(found.group())}, which is not allowed",
            line=_line_at(source, found.start()),
        )
    template = _parsed(source)
    _check_names(source, template.analyze(include_partials=False))
    return template


def _parsed(source: str) -> BoundTemplate:
    try:
        return _ENV.from_string(source)
    except LiquidError as err:
        message, line = f"Liquid syntax error: {err.message}", _error_line(err)
        if unclosed := _innermost_unclosed(source):
            # Liquid finds a missing `{% endif %}` only where the block should have ended (at
            # an outer block's end tag, or the end of the template, which has no line).
            name, opened = unclosed
            if line is None:
                line = opened
            elif opened != line:
                message += f" ('{{% {name} %}}' on line {opened} is never closed)"
        raise InputError(message, line=line) from err


def _check_names(source: str, analysis: TemplateAnalysis) -> None:
    unknown = [
        (span.index, f"unknown filter '{name}'")
        for name, spans in analysis.filters.items()
        if name not in _ENV.filters
        for span in spans
    ] + [
        (span.index, f"'{{% {name} %}}' cannot be used: a task template is one document")
        for name, spans in analysis.tags.items()
        if name in _NO_PARTIALS
        for span in spans
    ]
    if unknown:
        index, message = min(unknown)
        raise InputError(message, line=_line_at(source, index))


def _error_line(err: LiquidError) -> int | None:
    context = err.context()
    return context[0] if context else None


def _innermost_unclosed(source: str) -> tuple[str, int] | None:
    """The name and line of the block tag opened last and never closed, if any."""
    try:
        unclosed = _ENV.analyze_tags_from_string(source).unclosed_tags
    except (LiquidError, IndexError):
        # The tag audit tokenizes again, and fails as the parser did on a broken `{{` or
        # `{%`; python-liquid 2.3.6 also fails (IndexError) on an end tag with no start.
        return None
    found = [(span.index, name) for name, spans in unclosed.items() for span in spans]
    if not found:
        return None
    index, name = max(found)
    return name, _line_at(source, index)


_NEWLINE = re.compile(r"\r\n|\r|\n")


def _line_at(source: str, index: int) -> int:
    # Counts line breaks as Liquid does (str.splitlines); the other characters splitlines
    # breaks at are control characters, refused before any line is reported.
    return len(_NEWLINE.findall(source, 0, index)) + 1


def render_template(
    source: str, task_input: Mapping[str, object], *, grant: Callable[[str], str]
) -> str:
    """The page a worker sees for a task with `task_input`: the template rendered, A2I's
    Crowd HTML Elements loader pointed at truthloop's copy. `grant(uri)` gives the URL
    `grant_read_access` puts in the page and raises InputError to refuse a URI. Raises
    InputError (with the line) for a refused template or a render that fails."""
    template = _checked(source)
    if not isinstance(task_input, Mapping):
        raise InputError(f"a task's input must be a JSON object, not {_described(task_input)}")
    reset = _GRANT.set(grant)
    try:
        html = template.render(task={"input": task_input})
    except LiquidError as err:
        raise InputError(str(err.message), line=_error_line(err)) from err
    finally:
        _GRANT.reset(reset)
    return use_own_crowd_elements(html)


@dataclass(frozen=True)
class Rendered:
    """A preview (A2I's RenderUiTemplate): the page, and what is wrong or risky in it."""

    rendered_content: str
    errors: list[str] = field(default_factory=list)


def preview(
    source: str, sample_input: Mapping[str, object], grant: Callable[[str], str]
) -> Rendered:
    """Render `source` for `sample_input` as `render_template` does, reporting problems in
    `errors` instead of raising: a refused template (then nothing is rendered), a failed
    render, references to input keys the sample lacks or to names other than `task`, and
    external scripts and stylesheets, which the task frame blocks."""
    try:
        template = _checked(source)
    except InputError as err:
        return Rendered("", [str(err)])
    errors = list(_missing_names(source, template, sample_input))
    try:
        html = render_template(source, sample_input, grant=grant)
    except InputError as err:
        errors.append(str(err))
        html = ""
    errors += [
        f"warning: {url} is loaded from another site; the task page blocks it (serve it from"
        " truthloop, or inline it)"
        for url in external_references(source)
    ]
    return Rendered(html, errors)


def _missing_names(
    source: str, template: BoundTemplate, sample_input: Mapping[str, object]
) -> Iterator[str]:
    """Names the template reads that this input does not give (they render as nothing)."""
    seen = set()
    for name, variables in template.analyze(include_partials=False).globals.items():
        for variable in variables:
            segments = variable.segments
            if name != "task":
                problem = f"'{variable}' is not defined: a template is given only task.input"
            elif len(segments) < 2 or segments[1] != "input":
                problem = f"'{variable}' is not defined: task holds only input"
            elif (
                len(segments) > 2
                and isinstance(segments[2], str)
                and (segments[2] not in sample_input)
            ):
                problem = f"'{variable}' is not in the sample input, so it renders as nothing"
            else:
                continue
            message = str(InputError(problem, line=_line_at(source, variable.span.index)))
            if message not in seen:
                seen.add(message)
                yield message


def is_crowd_loader(url: str) -> bool:
    """Whether `url` is A2I's Crowd HTML Elements loader (any case of host, http(s) or
    scheme-relative)."""
    parts = urlsplit(url.strip())
    return (
        parts.scheme.lower() in ("https", "http", "")
        and parts.netloc.lower() == CROWD_LOADER_HOST
        and parts.path == CROWD_LOADER_PATH
        and not parts.query
        and not parts.fragment
    )


def use_own_crowd_elements(html: str) -> str:
    """`html` with each `<script src>` of A2I's loader pointed at `CROWD_ELEMENTS_URL`; the
    tag keeps its other attributes (`defer`, `async`...), and nothing else changes."""
    pieces, end = [], 0
    for tag in _start_tags(html, {"script"}):
        if not is_crowd_loader(tag.attrs.get("src") or ""):
            continue
        pieces += [html[end : tag.start], _script_tag(tag.attr_list)]
        end = tag.start + len(tag.text)
    return "".join([*pieces, html[end:]])


def _script_tag(attrs: list[tuple[str, str | None]]) -> str:
    # Rebuilt from the parsed attributes rather than edited in place: the parser has already
    # decided where each attribute starts and ends, however it was quoted.
    parts = ["<script"]
    for name, value in attrs:
        if name == "src":
            value = CROWD_ELEMENTS_URL
        parts.append(name if value is None else f'{name}="{html_escape(value, quote=True)}"')
    return " ".join(parts) + ">"


def external_references(source: str) -> list[str]:
    """The http(s) URLs of `<script src>` and `<link href>` in `source` other than A2I's
    loader (which truthloop serves itself), in order. They are left in the page, where the
    task frame's Content-Security-Policy blocks them; a preview shows them as warnings."""
    found = []
    for tag in _start_tags(source, {"script", "link"}):
        url = (tag.attrs.get("src" if tag.name == "script" else "href") or "").strip()
        if _is_external(url) and not is_crowd_loader(url):
            found.append(url)
    return found


def _is_external(url: str) -> bool:
    lowered = url.lower()
    return lowered.startswith(("http://", "https://", "//"))


@dataclass(frozen=True)
class _StartTag:
    name: str
    start: int
    text: str
    attr_list: list[tuple[str, str | None]]

    @property
    def attrs(self) -> dict[str, str | None]:
        return dict(self.attr_list)


def _start_tags(html: str, names: set[str]) -> list[_StartTag]:
    """Start tags named `names` in `html`, found by the standard library's HTML parser, so
    that text inside a `<script>` block or a comment is not taken for a tag."""
    scanner = _TagScanner(html, names)
    scanner.feed(html)
    scanner.close()
    return scanner.found


class _TagScanner(HTMLParser):
    def __init__(self, html: str, names: set[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.names = names
        self.found: list[_StartTag] = []
        # HTMLParser reports (line, column) with lines split at "\n" only.
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", html)]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.names:
            return
        line, column = self.getpos()
        start = self.line_starts[line - 1] + column
        text = self.get_starttag_text() or ""
        # Only a tag found where the parser says it is gets rewritten.
        if self.html.startswith(text, start):
            self.found.append(_StartTag(tag, start, text, attrs))


INITIAL_BOXES = """\
    initial-value='[
      {% for box in task.input.initialValue %}
        {"label": {{ box.label | to_json }}, "left": {{ box.left | to_json }},
         "top": {{ box.top | to_json }}, "width": {{ box.width | to_json }},
         "height": {{ box.height | to_json }} }{% unless forloop.last %},{% endunless %}
      {% endfor %}
    ]'
"""
"""crowd-bounding-box's `initial-value` built from `task.input.initialValue` (the boxes a
detect-started loop carries), every value through `to_json`: a template's attribute lines."""

EXAMPLE_TEMPLATE = (
    """\
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>

<crowd-form>
  <crowd-bounding-box
    name="annotatedResult"
    src="{{ task.input.taskObject | grant_read_access }}"
    header="Draw a box around each cat and dog"
    labels="{{ task.input.labels | to_json }}"
"""
    + INITIAL_BOXES
    + """\
  >
    <full-instructions header="Instructions">
      <p>Correct the model's boxes: move, resize or delete them, and add the ones it missed.</p>
    </full-instructions>
    <short-instructions>{{ task.input.instructions }}</short-instructions>
  </crowd-bounding-box>
</crowd-form>
"""
)
"""A task UI in A2I's style: a review of a model's boxes (`task.input.initialValue`, as a
detect-started loop's input carries them) on `task.input.taskObject`. `initial-value` is JSON
built by a Liquid loop; it is single-quoted because the template's own `"` would end a
double-quoted attribute, while the values' quotes and apostrophes are escaped (`&#34;`,
`&#39;`), which the browser reads back as `"` and `'`. Every value goes through `to_json`, so
input text cannot add keys or boxes to the JSON."""
