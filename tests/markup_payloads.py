"""Markup that must reach every page as text: HTML, Markdown, links, images, LaTeX, autolinks.

Each payload fits the manifest's shortest free-text field (``architecture.framework``,
50 characters), so the same list goes through the CLI, the web form and the
store. ``evil.example`` is the outside host none of them may make the browser
contact.
"""
from __future__ import annotations

EVIL_HOST = "evil.example"
PAYLOADS = [
    "<img src=http://evil.example/x.png>",
    "<a href=//evil.example style=position:fixed>X</a>",
    "<form action=//evil.example><input name=q></form>",
    "[click me](http://evil.example/)",
    "![pixel](http://evil.example/p.png)",
    "<svg onload=alert(1)><circle r=9></svg>",
    "<iframe src=//evil.example></iframe>",
    "<style>body{display:none}</style>",
    "$$\\href{http://evil.example}{x}$$",
    "www.evil.example/autolink",
    "**bold** _em_ `code` ~~del~~ | a | b |",
    "# heading <b>b</b> &amp; &lt;",
]
#: Selectors that find what a payload would have become had it rendered as markup.
RENDERED_SELECTORS = ["[src*='evil.example']", "[href*='evil.example']", "[action*='evil.example']",
                      "[onload]", "iframe", "form", ".katex", "math"]
