"""The lines of a comment that a reader sees as top-level text, found as GitHub renders it.

The comment is parsed with a CommonMark parser (markdown-it-py, with GitHub's tables and
strikethrough). A line counts only when it starts a line of a paragraph at the top level of the
document: not in a quote, a list, a table, a code block (fenced with any fence, or indented), a
heading, an HTML block or comment, nor inside an HTML element left open by raw HTML before it
(``<details>`` hides what follows until it closes). Lines end only where Markdown ends them
(``\\n``, ``\\r``): U+2028, U+0085, vertical tab and the like are characters of the line, so they
cannot lift a quoted line to the top level. The line is the text a reader sees: a line that
starts inside a code span or an inline HTML comment is not a line; formatting inside a line
(code spans, links, emphasis, inline HTML) is kept as a marker so that the command is refused.
"""

from __future__ import annotations

from functools import cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# Inline tokens that a reader sees as plain text of the line.
_TEXT = frozenset({"text"})
_BREAKS = frozenset({"softbreak", "hardbreak"})
FORMATTED = "\x00"  # stands for formatting inside a line: no command word can hold it
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # GitHub's comments: CommonMark plus GFM tables and strikethrough (a table row or a
    # struck-through line is no paragraph line); no HTML is rendered by the parser itself.
    return MarkdownIt("commonmark", {"maxNesting": 20}).enable(["table", "strikethrough"])


class _OpenElements(HTMLParser):
    """How many raw HTML elements are open at this point of the comment (fed in order)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in _VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:  # close it and whatever was left open inside it
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]


def visible_lines(body: str) -> list[str]:
    """The top-level paragraph lines of ``body`` as a reader sees them, in order."""
    tokens = _markdown().parse(body)
    html = _OpenElements()
    lines: list[str] = []
    top_paragraph = False
    for token in tokens:
        if token.type == "html_block":
            html.feed(token.content)
        elif token.type == "paragraph_open":
            top_paragraph = token.level == 0 and not token.hidden
        elif token.type == "paragraph_close":
            top_paragraph = False
        elif token.type == "inline" and top_paragraph:
            lines += _paragraph_lines(token.children or [], html)
    return lines


def _paragraph_lines(children: list[Any], html: _OpenElements) -> list[str]:
    lines: list[str] = []
    current: list[str] | None = [] if not html.open else None
    for child in children:
        if child.type in _BREAKS:
            if current is not None:
                lines.append("".join(current))
            current = [] if not html.open else None  # a line inside an open element is hidden
            continue
        if child.type == "html_inline":
            html.feed(child.content)
        if current is None:
            continue
        current.append(child.content if child.type in _TEXT else FORMATTED)
    if current is not None:
        lines.append("".join(current))
    return lines
