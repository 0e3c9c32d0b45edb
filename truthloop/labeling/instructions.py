"""Job instructions are Markdown written by a manager and shown to every worker as HTML.

Raw HTML in the Markdown is escaped rather than passed through, and the rendered HTML is
sanitized once more with nh3 (no scripts, no event handlers, no `javascript:` links), so hostile
instructions render as text.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=256)
def render_instructions(markdown: str) -> str:
    """Safe HTML for `markdown` (cached: every task of a job shows the same instructions)."""
    return nh3.clean(_MARKDOWN.render(markdown), link_rel="noopener noreferrer nofollow")
