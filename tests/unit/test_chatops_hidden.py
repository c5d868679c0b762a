"""Commands a reader cannot see never run: the comment is read as GitHub renders it, and only
lines of top-level paragraphs count (attack tests, one per hiding trick, and quote replies)."""

from __future__ import annotations

import random

import pytest

from pipeline.chatops.decide import Ignored, classify
from pipeline.chatops.parse import parse_comment
from tests.fakes.chatops import comment_payload

ATTACK = "/deploy churn 3 --env prod"

HIDDEN = {
    "tilde line inside a backtick fence": f"```\n~~~\n{ATTACK}\n```\n",
    "backtick line inside a tilde fence": f"~~~\n```\n{ATTACK}\n~~~\n",
    "four-backtick fence holding a three-backtick line": f"````\n```\n{ATTACK}\n````\n",
    "fence left open to the end": f"```\n{ATTACK}\n",
    "indented fence": f"   ```\n{ATTACK}\n   ```\n",
    "four-space indented code": f"Notes:\n\n    {ATTACK}\n",
    "tab-indented code": f"\t{ATTACK}\n",
    "HTML comment": f"<!--\n{ATTACK}\n-->\n",
    "HTML comment on one line": f"<!-- {ATTACK} -->\n",
    "HTML comment left open": f"fine\n\n<!--\n\n{ATTACK}\n",
    "inline HTML comment across lines": f"LGTM <!--\n{ATTACK}\n-->\n",
    "collapsed details": f"<details>\n\n{ATTACK}\n\n</details>\n",
    "hidden div": f"<div hidden>\n\n{ATTACK}\n\n</div>\n",
    "inline element left open": f"see <span>\n{ATTACK}</span>\n",
    "U+2028 inside a quote": f"> looks fine\u2028{ATTACK}\n",
    "U+0085 inside a quote": f"> looks fine\x85{ATTACK}\n",
    "vertical tab inside a quote": f"> looks fine\x0b{ATTACK}\n",
    "form feed inside a quote": f"> looks fine\x0c{ATTACK}\n",
    "file separator inside a quote": f"> looks fine\x1c{ATTACK}\n",
    "U+2029 inside a quote": f"> looks fine\u2029{ATTACK}\n",
    "quote": f"> {ATTACK}\n",
    "lazy quote continuation": f"> quoted\n{ATTACK}\n",
    "list item": f"- {ATTACK}\n",
    "ordered list item": f"1. {ATTACK}\n",
    "table row": f"| a |\n| - |\n{ATTACK}\n",
    "setext heading": f"{ATTACK}\n---\n",
    "ATX heading": f"# {ATTACK}\n",
    "code span across lines": f"`x\n{ATTACK}`\n",
    "link title across lines": f"[x](https://example.invalid 'a\n{ATTACK}')\n",
    "zero-width space before the slash": f"\u200b{ATTACK}\n",
    "fullwidth solidus": f"\uff0f{ATTACK[1:]}\n",
}


@pytest.mark.parametrize("body", HIDDEN.values(), ids=HIDDEN.keys())
def test_a_command_readers_cannot_see_is_no_command(body: str) -> None:
    assert parse_comment(body) == []


@pytest.mark.parametrize("body", HIDDEN.values(), ids=HIDDEN.keys())
def test_a_quote_reply_of_a_hidden_command_runs_nothing_as_the_writer(body: str) -> None:
    """GitHub's "Quote reply" prefixes every source line with "> ": whatever the outsider hid,
    the writer's reply holds it quoted, and the writer's own command alone runs."""
    quoted = "".join(f"> {line}\n" for line in body.split("\n"))
    reply = f"{quoted}\nAgreed.\n\n/help\n"
    event = classify("issue_comment", comment_payload(reply, login="alice"))
    assert not isinstance(event, Ignored)
    assert [c.name for c in event.commands] == ["help"]


@pytest.mark.parametrize(
    "body",
    [
        f"{ATTACK}\n",
        f"Shipping it.\n{ATTACK}\n",  # a line of a paragraph, shown as such
        f"```\ncode\n```\n{ATTACK}\n",
        f"<!-- note -->\n\n{ATTACK}\n",
        f"<details>\n\nlogs\n\n</details>\n\n{ATTACK}\n",
        f"> quoted\n\n{ATTACK}\n",
        f"  {ATTACK}\r\n",
        f"text <b>bold</b>\n{ATTACK}\n",
    ],
)
def test_a_visible_top_level_command_still_counts(body: str) -> None:
    (command,) = parse_comment(body)
    assert (command.error, command.model, command.env) == (None, "churn", "prod")


def test_formatting_inside_a_command_line_is_refused_not_run() -> None:
    for body in (
        "/deploy `churn` 3",
        "/deploy *churn* 3",
        "/deploy [churn](https://x.invalid) 3",
        "/deploy churn <!-- x --> 3",
    ):
        (command,) = parse_comment(body)
        assert command.error is not None and command.model is None, body


def _rendered_top_level_lines(body: str) -> set[str]:
    """An oracle apart from the token walk: the lines of top-level ``<p>`` elements of the
    HTML that the same CommonMark rules render."""
    from html.parser import HTMLParser

    from markdown_it import MarkdownIt

    class Lines(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.texts: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag not in ("br", "img", "hr"):
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if self.stack == ["p"] and tag == "p":
                self.texts.append("\n")
            while tag in self.stack and self.stack.pop() != tag:
                pass

        def handle_data(self, data: str) -> None:
            if self.stack == ["p"]:
                self.texts.append(data)

    parser = Lines()
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(body)
    parser.feed(html)
    return {line.strip() for line in "".join(parser.texts).split("\n")}


def test_fuzzed_comments_never_run_a_command_they_hide() -> None:
    """Random mixes of the tricks above, with prose, quotes, headings and stray separators
    around them: never a command from the hidden lines."""
    rng = random.Random(14)
    # those left open to the end hide only when nothing follows, an indented fence only
    # outside a list item (which it would close): tested alone above
    wrappers = [v for k, v in HIDDEN.items() if "left open" not in k and k != "indented fence"]
    noise = ["text", "", "> q", "# h", "<b>x</b>", "\u2028", "\x85", "    x", "|a|"]
    for _ in range(500):
        before = [rng.choice(noise) for _ in range(rng.randint(0, 3))]
        hidden = [rng.choice(wrappers) for _ in range(rng.randint(1, 2))]
        after = [rng.choice(noise) for _ in range(rng.randint(0, 3))]
        body = rng.choice(["\n\n", "\r\n\r\n"]).join([*before, *hidden, *after])
        assert parse_comment(body) == [], body


def test_fuzzed_commands_are_always_visible_top_level_lines() -> None:
    """Free mixes (single line breaks let one trick undo another): whatever is accepted as a
    command is a line of a top-level paragraph of the rendered HTML."""
    rng = random.Random(2028)
    pieces = [*HIDDEN.values(), ATTACK, "text", "> q", "- item", "```", "~~~", "<!--", "-->"]
    found = 0
    for _ in range(300):
        body = rng.choice(["\n", "\r\n", "\n\n"]).join(
            rng.choice(pieces) for _ in range(rng.randint(1, 5))
        )
        accepted = [c for c in parse_comment(body) if c.error is None]
        found += len(accepted)
        visible = _rendered_top_level_lines(body)
        for command in accepted:
            assert command.text in visible, body
    assert found  # the oracle had commands to check
