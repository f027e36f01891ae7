"""Integrity on the pages: the About page's rounds section and the detail view's intervals, round and gap.

Only numbers, round ids and hex digests reach these Markdown strings (each
checked against its pattern), never text a submitter typed.
"""
from __future__ import annotations

import re

_HEX = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^r\d{1,6}$")


def rounds_markdown() -> str:
    """Markdown for the About page (read on every page load: a rotation shows without a restart)."""
    from benchmark.rounds import read_ledger, verify_round

    try:
        rounds = read_ledger()
    except Exception:  # the page must render whatever the ledger holds
        rounds = []
    lines = [
        "## Hidden test rounds",
        "",
        "The leaderboard ranks models on a **hidden test**: 5,000 sequences drawn from the same published "
        "generator as the public data (koo2019 preset, same 12 motifs) with a secret seed per round. The public "
        "test stays for local work; the gap column (public minus hidden) shows tuning to it. Each round "
        "publishes a commitment, `sha256(seed)`; when the round ends its seed is published here, and anyone can "
        "check the commitment and reproduce every score of the round with "
        "`motifbench evaluate MODEL --hidden-seed SEED` (docs/rounds.md). Every number carries a 95% bootstrap "
        "interval over sequences (by default 1,000 resamples, 50 for motif recovery; each record states its own "
        "settings); rows whose interval overlaps the leader's share rank 1.",
        "",
    ]
    shown = [r for r in rounds if _ID.match(r.id) and _HEX.match(r.commitment)]
    if not shown:
        lines.append("No round has started yet on this server.")
        return "\n".join(lines)
    lines += ["| round | status | commitment (sha256 of the seed) | seed |", "|---|---|---|---|"]
    for r in reversed(shown):
        if r.current:
            status, seed = f"current, since {r.started[:10]}", "secret until the round ends"
        else:
            status = f"ended {str(r.ended)[:10]}"
            ok = r.seed is not None and _HEX.match(r.seed) and verify_round(r)
            seed = f"`{r.seed}` (matches)" if ok else "not published"
        lines.append(f"| {r.id} | {status} | `{r.commitment}` | {seed} |")
    return "\n".join(lines)


def _interval(bounds) -> str:
    if not isinstance(bounds, list) or len(bounds) != 2 or any(not isinstance(b, (int, float)) for b in bounds):
        return "n/a"
    return f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def _num(value) -> str:
    return f"{value:+.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def detail_lines(record: dict) -> list[str]:
    """Markdown lines for the model detail header: 95% intervals, the round, the public-minus-hidden gap."""
    res = record.get("results") or {}
    ci = res.get("uncertainty") or {}
    lines: list[str] = []
    if ci:
        cls, rec, att = ci.get("classification") or {}, ci.get("motif_recovery") or {}, ci.get("attribution") or {}
        settings = ci.get("settings") or {}
        lines += ["", f"**95% bootstrap intervals** ({settings.get('resamples', '?')} resamples over sequences; "
                      f"{settings.get('recovery_resamples', '?')} for recovery; seed {settings.get('seed', '?')})", "",
                  "| AUROC | auPR | match ground truth | coverage | match JASPAR | attribution |",
                  "|---|---|---|---|---|---|",
                  f"| {_interval(cls.get('macro_auroc'))} | {_interval(cls.get('macro_aupr'))} | "
                  f"{_interval(rec.get('match_ground_truth_fraction'))} | {_interval(rec.get('coverage'))} | "
                  f"{_interval(rec.get('match_jaspar_fraction'))} | {_interval(att.get('mean_auroc'))} |"]
    round_info = record.get("round") or {}
    rid, seal = str(round_info.get("id") or ""), str(round_info.get("commitment") or "")
    if _HEX.match(seal):
        lines += ["", f"Scored on the **hidden test** of round {rid if _ID.match(rid) else '?'} "
                      f"(commitment `{seal[:16]}…`)."]
    public = record.get("public_test") or {}
    if public:
        cls_now = res.get("classification") or {}
        rec_now = res.get("motif_recovery") or {}
        pairs = [("AUROC", public.get("macro_auroc"), cls_now.get("macro_auroc")),
                 ("auPR", public.get("macro_aupr"), cls_now.get("macro_aupr")),
                 ("match ground truth", public.get("match_ground_truth_fraction"), rec_now.get("match_ground_truth_fraction")),
                 ("coverage", public.get("coverage"), rec_now.get("coverage"))]
        gaps = [f"{name} {_num(p - h) if isinstance(p, (int, float)) and isinstance(h, (int, float)) else 'n/a'}"
                for name, p, h in pairs]
        lines += ["", "**Public minus hidden** (a large positive gap suggests tuning to the public test): "
                      + " · ".join(gaps)]
    return lines


_HISTORY_NAME = re.compile(r"^(?P<version>[0-9A-Za-z._+]{1,40})-e(?P<major>\d{1,4})-(?P<round>r\d{1,6}|public)\.json$")


def earlier_records_lines(submission_id: str, root=None) -> list[str]:
    """Markdown links to a submission's earlier records (ended rounds, older versions), served by the app.

    ``results/history/<id>/<version>-e<major>-<round>.json`` (written by the
    export, no server paths inside). An ended round's record is what a
    verifier compares with ``motifbench evaluate --hidden-seed`` (docs/rounds.md).
    """
    from urllib.parse import quote

    from space_app.records import safe_id
    from submissions.store import submissions_home

    sid = safe_id(submission_id)
    folder = (root or submissions_home()) / "results" / "history" / str(sid)
    if sid is None or not folder.is_dir():
        return []
    links = []
    for path in sorted(folder.iterdir()):
        match = _HISTORY_NAME.match(path.name)
        if match and path.is_file():
            what = "public test" if match["round"] == "public" else f"round {match['round']}"
            links.append(f"[{what}, dataset v{match['version']}, evaluator {match['major']}.x]"
                         f"(/gradio_api/file={quote(path.resolve().as_posix())})")
    if not links:
        return []
    return ["", "**Earlier records** of this model (JSON; an ended round's seed is on the About page): "
            + " · ".join(links)]
