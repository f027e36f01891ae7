"""The ``<head>`` addition of every page: header tooltips for the leaderboard's metric columns.

Gradio's Dataframe has no per-header tooltip, so a small script sets each
matching header cell's ``title`` (the browser's native tooltip, read by
screen readers as the description) from :data:`space_app.glossary.DEFINITIONS`,
and again whenever the table re-renders. Only our own constant strings go
into the script, serialised as JSON with ``<`` escaped, so nothing can close
the script element.
"""
from __future__ import annotations

import json

from space_app.glossary import DEFINITIONS

_SCRIPT = """<script>
(() => {
  const help = %s;
  const apply = () => {
    document.querySelectorAll("#leaderboard-table th").forEach((th) => {
      const name = (th.innerText || "").trim().split("\\n")[0].trim();
      if (help[name] && th.title !== help[name]) { th.title = help[name]; th.setAttribute("aria-description", help[name]); }
    });
  };
  new MutationObserver(apply).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>"""


def head_html() -> str:
    """The ``<script>`` element Gradio adds to the page head (``launch(head=...)``)."""
    payload = json.dumps(DEFINITIONS, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")
    return _SCRIPT % payload
