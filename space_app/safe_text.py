"""The one rule for putting user-controlled text on a page: it is text, never markup.

Anything a submitter controls (manifest fields, ONNX producer / doc strings /
metadata, tensor names, file names, and error messages that quote them) may
hold HTML, Markdown, links, images or LaTeX. Gradio's Markdown sanitizer keeps
``style``, ``<form>``, ``<input>``, outside links and images, so escaping is
done here, once, and every view calls these functions:

- :func:`md` for text placed inside a ``gr.Markdown`` string (detail header,
  submit result and status, queue and leaderboard counts, error messages):
  HTML's special characters become entities and every character that can
  start Markdown markup is backslash-escaped (no emphasis, code, links,
  images, autolinks, headings, lists, tables or ``$$`` LaTeX can start), line
  breaks become spaces;
- :func:`cell` for table cells and dropdown labels (Gradio renders those as
  text): only length and invisible characters are handled;
- :func:`csv_cell` for the downloaded CSV (OWASP's formula-injection rule).

All three first apply :func:`clean`: control and bidirectional-override
characters are dropped and the text is cut to :data:`DISPLAY_CHARS`
characters, so one long field cannot make every page load heavy.
"""
from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

#: Longest user-controlled text shown anywhere (longer text is cut with an ellipsis).
DISPLAY_CHARS = 200
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
#: Characters that can open Markdown markup anywhere in a line (``:`` and ``@`` break autolinks).
_MD_SPECIAL = frozenset("\\`*_{}[]()#!|~$:@^=")
#: ... and those that do only at the start of a line (lists, quotes); "1." / "1)" is handled apart.
_MD_LINE_START = frozenset("-+>")
_ORDERED_LIST = re.compile(r"^(\d{1,9})([.)])")
_WWW = re.compile(r"(?i)www\.")
_HTML_SPECIAL = frozenset("<>&\"'")
#: Cells a spreadsheet would run as a formula (OWASP CSV injection): = + - @ and tab / carriage return.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean(value: Any, limit: int = DISPLAY_CHARS) -> str:
    """``value`` as one line of visible text: control/format characters dropped, at most ``limit`` characters."""
    if value is None:
        return ""
    text = str(value) if not isinstance(value, str) else value
    if len(text) > limit * 4:  # never walk a huge string character by character
        text = text[: limit * 4]
    text = "".join(" " if ch in "\t\n\r\v\f" else ch for ch in text
                   if ch in "\t\n\r\v\f" or unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def md(value: Any, limit: int = DISPLAY_CHARS) -> str:
    """User text for a Markdown string: renders as exactly these characters, never as markup."""
    text = clean(value, limit)
    out = []
    for i, ch in enumerate(text):
        if ch in _HTML_SPECIAL:
            out.append(html.escape(ch, quote=True))
        elif ch in _MD_SPECIAL or (i == 0 and ch in _MD_LINE_START):
            out.append("\\" + ch)
        else:
            out.append(ch)
    escaped = _ORDERED_LIST.sub(lambda m: m.group(1) + "\\" + m.group(2), "".join(out))  # "1." starts no list
    return _WWW.sub(lambda m: m.group()[:-1] + "\\.", escaped)  # no www. autolinks


def cell(value: Any, limit: int = DISPLAY_CHARS) -> Any:
    """A table cell or dropdown label: strings cleaned and capped; numbers, None and booleans unchanged."""
    return clean(value, limit) if isinstance(value, str) else value


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: text starting with = + - @ tab CR gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value

