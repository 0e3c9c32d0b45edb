"""Worker task templates: Liquid with autoescape, A2I's filters, checks and preview."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from liquid.exceptions import FilterArgumentError

from truthloop.errors import InputError
from truthloop.review import templates
from truthloop.review.templates import (
    CROWD_ELEMENTS_URL,
    EXAMPLE_TEMPLATE,
    MAX_TEMPLATE_CHARS,
    Rendered,
    check_template,
    external_references,
    preview,
    render_template,
)

LOADER = '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>'
HOSTILE = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
ODD_TEXT = 'Tom\'s "big" </script><!-- & &amp; ü \u2028'


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes as the browser reads them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


def no_grant(uri: str) -> str:
    raise AssertionError(f"no grant expected, asked for {uri}")


def fake_grant(uri: str) -> str:
    return f"/review/media/token-for?u={uri}&v=1"


def render(source: str, **task_input: object) -> str:
    return render_template(source, task_input, grant=fake_grant)


# --- task.input -------------------------------------------------------------------------------


def test_every_top_level_key_of_the_input_is_task_input() -> None:
    source = "{{ task.input.word }}|{{ task.input.nested.n }}|{{ task.input.items | join: '+' }}"
    assert render(source, word="cat", nested={"n": 3}, items=["a", "b"]) == "cat|3|a+b"


def test_only_task_is_given_and_missing_keys_render_as_nothing() -> None:
    source = "[{{ input.word }}][{{ word }}][{{ task.input.absent }}][{{ task.input.absent.x }}]"
    assert render(source, word="cat") == "[][][][]"
    loop = (
        "{% for x in task.input.absent %}never{% endfor %}{% if task.input.absent %}no{% endif %}"
    )
    assert render(loop) == ""


def test_the_input_must_be_an_object() -> None:
    with pytest.raises(InputError, match="JSON object"):
        render_template("x", ["not", "a", "dict"], grant=no_grant)  # type: ignore[arg-type]


# --- autoescape -------------------------------------------------------------------------------


def test_hostile_html_in_the_input_is_text() -> None:
    page = render("<p>{{ task.input.note }}</p>", note=HOSTILE)
    assert page == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert Tags(page).named("script") == []
    assert Tags(page).text == [HOSTILE]


@pytest.mark.parametrize("quote", ['"', "'"])
def test_hostile_text_cannot_leave_an_attribute(quote: str) -> None:
    page = render(f"<img alt={quote}{{{{ task.input.note }}}}{quote} src=a.png>", note=BREAKOUT)
    tags = Tags(page)
    assert tags.tags == [("img", {"alt": BREAKOUT, "src": "a.png"})]
    assert "onerror" not in {name for _, attrs in tags.tags for name in attrs}


def test_skip_autoescape_lets_html_through() -> None:
    page = render("<div>{{ task.input.note | skip_autoescape }}</div>", note="<b>hi</b>")
    assert page == "<div><b>hi</b></div>"
    assert render("{{ task.input.n | skip_autoescape }}", n=["<i>", 1]) == "<i>1"


def test_escape_does_not_escape_twice_under_autoescape() -> None:
    assert render("{{ task.input.t | escape }}", t="<a & b>") == "&lt;a &amp; b&gt;"


def test_escape_once_leaves_entities_alone() -> None:
    text = 'a &amp; b < c &#39; &#x27; &copy; &nbsp & "q"'
    expected = "a &amp; b &lt; c &#39; &#x27; &copy; &amp;nbsp &amp; &#34;q&#34;"
    assert render("{{ task.input.t | escape_once }}", t=text) == expected
    # Marked safe: a later skip_autoescape cannot undo it, autoescape does not redo it.
    assert render("{{ task.input.t | escape_once | skip_autoescape }}", t=text) == expected
    assert render("{{ task.input.t | escape | escape_once }}", t="<&amp;>") == "&lt;&amp;amp;&gt;"


# --- to_json ----------------------------------------------------------------------------------


VALUE = {"label": ODD_TEXT, "n": [1, 2.5, None, True], "ü": {"k": "'\"<>&"}}


@pytest.mark.parametrize("quote", ['"', "'"])
def test_to_json_in_an_attribute_reads_back_as_the_value(quote: str) -> None:
    page = render(f"<x-el data-v={quote}{{{{ task.input.v | to_json }}}}{quote}></x-el>", v=VALUE)
    [(tag, attrs)] = Tags(page).tags
    assert tag == "x-el"
    assert json.loads(attrs["data-v"] or "") == VALUE


def test_to_json_cannot_end_a_script_block_even_unescaped() -> None:
    page = render(
        "<script>var v = {{ task.input.v | to_json | skip_autoescape }};</script>", v=VALUE
    )
    assert page.count("</script>") == 1
    assert "<!--" not in page
    body = page.removeprefix("<script>var v = ").removesuffix(";</script>")
    assert json.loads(body) == VALUE


def test_to_json_of_nothing_is_null_and_of_a_range_is_a_list() -> None:
    assert render("{{ task.input.absent | to_json }}") == "null"
    assert render("{{ (1..3) | to_json }}") == "[1, 2, 3]"


def test_to_json_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(InputError, match=r"line 2: to_json cannot write"):
        render("\n{{ task.input.x | to_json }}", x=float("nan"))


# --- the example template ---------------------------------------------------------------------


BOXES = [
    {"label": "Cat", "left": 10, "top": 20, "width": 30, "height": 40},
    {"label": 'Dog"}, {"label": "x', "left": 1, "top": 2, "width": 3, "height": 4},
]


def test_the_example_renders_a_bounding_box_task_whose_attributes_read_back() -> None:
    asked: list[str] = []

    def grant(uri: str) -> str:
        asked.append(uri)
        return fake_grant(uri)

    task_input = {
        "taskObject": "s3://bucket/cat.jpg",
        "labels": ["Cat", "Dog"],
        "initialValue": BOXES,
        "instructions": HOSTILE,
    }
    page = render_template(EXAMPLE_TEMPLATE, task_input, grant=grant)
    tags = Tags(page)
    [box] = tags.named("crowd-bounding-box")
    assert asked == ["s3://bucket/cat.jpg"]
    assert box["src"] == "/review/media/token-for?u=s3://bucket/cat.jpg&v=1"
    assert box["name"] == "annotatedResult"
    assert json.loads(box["labels"] or "") == ["Cat", "Dog"]
    assert json.loads(box["initial-value"] or "") == BOXES
    assert tags.named("script") == [{"src": CROWD_ELEMENTS_URL}]
    assert HOSTILE in tags.text and "<script>alert" not in page


def test_the_example_with_no_boxes_has_an_empty_initial_value() -> None:
    task_input = {"taskObject": "s3://b/x.jpg", "labels": ["Cat"], "initialValue": []}
    [box] = Tags(render_template(EXAMPLE_TEMPLATE, task_input, grant=fake_grant)).named(
        "crowd-bounding-box"
    )
    assert json.loads(box["initial-value"] or "") == []


# --- the Crowd HTML Elements loader -----------------------------------------------------------


@pytest.mark.parametrize(
    ("loader", "kept"),
    [
        (LOADER, {}),
        ("<script src='https://assets.crowd.aws/crowd-html-elements.js'></script>", {}),
        ("<script src=https://assets.crowd.aws/crowd-html-elements.js></script>", {}),
        ('<SCRIPT defer SRC="https://ASSETS.Crowd.Aws/crowd-html-elements.js"></SCRIPT>', {}),
        ('<script src="//assets.crowd.aws/crowd-html-elements.js" async></script>', {}),
        (
            '<script\n  async\n  type="text/javascript"\n  src = "https://assets.crowd.aws/'
            'crowd-html-elements.js" ></script>',
            {"type": "text/javascript"},
        ),
        ('<script src=" https://assets.crowd.aws/crowd-html-elements.js "/>', {}),
    ],
)
def test_the_loader_line_points_at_truthloops_copy(loader: str, kept: dict[str, str]) -> None:
    page = render(f"<p>before</p>\n{loader}\n<crowd-form></crowd-form>")
    assert "assets.crowd.aws" not in page.lower()
    assert page.startswith("<p>before</p>\n<script ")
    assert page.endswith("\n<crowd-form></crowd-form>")
    [script] = Tags(page).named("script")
    assert script["src"] == CROWD_ELEMENTS_URL
    flags = {name for name in ("defer", "async") if name in loader.lower()}
    assert {k for k, v in script.items() if v is None} == flags
    assert {k: v for k, v in script.items() if v is not None and k != "src"} == kept


def test_only_the_loader_is_rewritten() -> None:
    untouched = "\n".join(
        [
            '<script src="https://assets.crowd.aws.example.com/crowd-html-elements.js"></script>',
            '<script src="https://assets.crowd.aws/other.js"></script>',
            '<script src="https://assets.crowd.aws/crowd-html-elements.js?v=2"></script>',
            '<script data-src="https://assets.crowd.aws/crowd-html-elements.js"></script>',
            '<link rel="preload" href="https://assets.crowd.aws/crowd-html-elements.js">',
            "<p>https://assets.crowd.aws/crowd-html-elements.js</p>",
            f"<!-- {LOADER} -->",
            f"<script>var s = '{LOADER[:-9]}<\\/script>';</script>",
        ]
    )
    assert render(untouched) == untouched
    page = render(f"{untouched}\n{LOADER}\n{untouched}")
    expected_line = f'<script src="{CROWD_ELEMENTS_URL}"></script>'
    assert page == f"{untouched}\n{expected_line}\n{untouched}"


def test_external_scripts_and_stylesheets_are_reported_not_changed() -> None:
    source = "\n".join(
        [
            LOADER,
            '<script src="https://cdn.example.com/lib.js"></script>',
            "<link rel=stylesheet href=HTTP://fonts.example.org/a.css>",
            '<link rel="icon" href="//example.net/favicon.ico">',
            '<script src="/static/mine.js"></script>',
            '<link rel="stylesheet" href="local.css">',
            '<img src="https://example.com/not-a-script.png">',
            '<script>var u = "<script src=https://in-a-string.example/x.js>";</script>',
        ]
    )
    assert external_references(source) == [
        "https://cdn.example.com/lib.js",
        "HTTP://fonts.example.org/a.css",
        "//example.net/favicon.ico",
    ]
    assert render(source) == source.replace(LOADER, f'<script src="{CROWD_ELEMENTS_URL}"></script>')


# --- check_template ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "problem"),
    [
        ("<p>\n{{ task.input.x | }}\n</p>", 2, "expected word"),
        ("<p>\n\n{% if task.input.x %}\n<b>never closed</b>\n", 3, "endif"),
        (
            "{% for a in b %}\n{% if a %}\n{% endfor %}",
            3,
            "unexpected tag 'endfor' ('{% if %}' on line 2 is never closed)",
        ),
        ("a\nb\n{% endif %}", 3, "unexpected tag 'endif'"),
        ("a\n{% nosuchtag %}", 2, "unexpected tag 'nosuchtag'"),
        ("a\r\nb\r\n{{ task.input.x", 3, "expected '}}'"),
        ("x\n\n\n{% for %}{% endfor %}", 4, "missing expression"),
        ("{% comment %}\nnever closed", 1, "comment"),
    ],
)
def test_a_syntax_error_is_refused_naming_its_line(source: str, line: int, problem: str) -> None:
    with pytest.raises(InputError, match="Liquid syntax error") as caught:
        check_template(source)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    assert problem in str(caught.value)


def test_an_unknown_filter_is_refused_naming_it_and_its_line() -> None:
    source = "<p>{{ task.input.x | upcase }}</p>\n\n<p>{{ task.input.x | shout | upcase }}</p>"
    with pytest.raises(InputError) as caught:
        check_template(source)
    assert str(caught.value) == "line 3: unknown filter 'shout'"
    # The same inside a tag's expression.
    with pytest.raises(InputError, match=r"^line 2: unknown filter 'nope'$"):
        check_template("x\n{% assign y = task.input.x | nope %}")


def test_a_template_cannot_load_another() -> None:
    with pytest.raises(InputError, match=r"^line 2: '\{% include %\}' cannot be used"):
        check_template("x\n{% include 'other' %}")


def test_the_filters_a2i_documents_are_known() -> None:
    check_template(
        "{{ x | grant_read_access }}{{ x | to_json }}{{ x | escape }}{{ x | escape_once }}"
        "{{ x | skip_autoescape }}{{ x | upcase | default: 'y' }}"
    )
    check_template(EXAMPLE_TEMPLATE)


def test_a_template_over_a2is_size_limit_is_refused() -> None:
    assert MAX_TEMPLATE_CHARS == 128_000
    check_template("x" * MAX_TEMPLATE_CHARS)
    with pytest.raises(InputError, match=r"at most 128,000 characters.*128,001"):
        check_template("x" * (MAX_TEMPLATE_CHARS + 1))


@pytest.mark.parametrize(
    ("char", "name"), [("\x00", "U+0000 (NUL)"), ("\x1b", "U+001B (ESC)"), ("\u202e", "U+202E")]
)
def test_control_characters_are_refused_with_their_line(char: str, name: str) -> None:
    pattern = rf"^line 2: the template contains {re.escape(name)}"
    with pytest.raises(InputError, match=pattern) as caught:
        check_template(f"<p>\n<b>{char}</b>\n</p>")
    assert caught.value.line == 2


def test_tabs_and_line_breaks_are_allowed() -> None:
    check_template("<p>\r\n\t{{ task.input.x }}\r</p>\n")


# --- grant_read_access ------------------------------------------------------------------------


def test_grant_read_access_puts_the_callbacks_url_in_the_page() -> None:
    page = render('<img src="{{ task.input.img | grant_read_access }}">', img="s3://b/a.jpg")
    assert page == '<img src="/review/media/token-for?u=s3://b/a.jpg&amp;v=1">'
    assert Tags(page).named("img") == [{"src": "/review/media/token-for?u=s3://b/a.jpg&v=1"}]


def test_a_refused_grant_fails_the_render_naming_the_value() -> None:
    def grant(uri: str) -> str:
        raise InputError("it is not an item of this loop")

    source = '<p>\n<img src="{{ task.input.img | grant_read_access }}">'
    with pytest.raises(InputError) as caught:
        render_template(source, {"img": "s3://other/secret.jpg"}, grant=grant)
    assert str(caught.value) == (
        "line 2: grant_read_access refused 's3://other/secret.jpg': it is not an item of this loop"
    )


def test_grant_read_access_of_nothing_fails() -> None:
    with pytest.raises(InputError, match="needs a URI, got nothing"):
        render_template("{{ task.input.img | grant_read_access }}", {}, grant=no_grant)
    with pytest.raises(InputError, match="needs a URI, got a int"):
        render_template("{{ task.input.img | grant_read_access }}", {"img": 3}, grant=no_grant)


def test_the_grant_belongs_to_its_render_only() -> None:
    render("{{ task.input.img | grant_read_access }}", img="s3://b/a.jpg")
    with pytest.raises(FilterArgumentError, match="this render has no grant"):
        templates._grant_read_access("s3://b/a.jpg")


def test_a_runaway_loop_is_stopped() -> None:
    with pytest.raises(InputError, match="loop iteration limit"):
        render("{% for i in (1..10000000) %}{% endfor %}")


# --- preview ----------------------------------------------------------------------------------


def test_preview_of_a_good_template_has_no_errors() -> None:
    sample = {
        "taskObject": "s3://b/x.jpg", "labels": ["Cat"], "initialValue": BOXES, "instructions": ""
    }
    result = preview(EXAMPLE_TEMPLATE, sample, fake_grant)
    assert result == Rendered(render_template(EXAMPLE_TEMPLATE, sample, grant=fake_grant), [])


def test_preview_reports_a_refused_template_instead_of_raising() -> None:
    result = preview("<p>\n{{ task.input.x | shout }}", {}, no_grant)
    assert result == Rendered("", ["line 2: unknown filter 'shout'"])
    assert preview("{% if x %}", {}, no_grant).errors[0].startswith("line 1: Liquid syntax")


def test_preview_reports_a_failed_render_and_names_the_sample_lacks() -> None:
    def grant(uri: str) -> str:
        raise InputError("no such item")

    source = "\n".join(
        [
            '<img src="{{ task.input.img | grant_read_access }}">',
            "{{ task.input.missing }}{{ task.input.missing }}",
            "{{ task.output }}",
            "{% for b in task.input.boxes %}{{ b.label }}{{ forloop.index }}{% endfor %}",
            "{{ workerId }}",
        ]
    )
    result = preview(source, {"img": "s3://b/x.jpg", "boxes": []}, grant)
    assert result.rendered_content == ""
    assert result.errors == [
        "line 2: 'task.input.missing' is not in the sample input, so it renders as nothing",
        "line 3: 'task.output' is not defined: task holds only input",
        "line 5: 'workerId' is not defined: a template is given only task.input",
        "line 1: grant_read_access refused 's3://b/x.jpg': no such item",
    ]


def test_preview_warns_of_external_references() -> None:
    source = f'{LOADER}\n<script src="https://cdn.example.com/lib.js"></script>\n<p>ok</p>'
    result = preview(source, {}, no_grant)
    assert result.rendered_content.endswith("<p>ok</p>")
    assert CROWD_ELEMENTS_URL in result.rendered_content
    [warning] = result.errors
    assert warning.startswith("warning: https://cdn.example.com/lib.js is loaded from another site")
