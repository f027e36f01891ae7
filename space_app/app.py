"""The motifbench leaderboard Space: ``demo`` is the Gradio Blocks app.

Run it with ``motifbench serve`` (app + evaluation worker against the data
home), or as a Hugging Face Space (``python app.py``: the Space runs this
file). Tabs: Leaderboard, Model detail, Submit, Queue, About. Every handler
reads the exported leaderboard table and result records; none recomputes a
score. Handlers open their own store connection per call (SQLite connections
are not shared between Gradio's worker threads).
"""
from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (a Space, or `python space_app/app.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from space_app.settings import allowed_paths, blocked_paths, quiet_env  # noqa: E402

quiet_env()

from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from space_app import leaderboard as lb  # noqa: E402
from space_app.about import about_markdown, results_figure  # noqa: E402
from space_app.integrity_view import rounds_markdown  # noqa: E402
from space_app.csv_cache import cached_csv, csv_key  # noqa: E402
from space_app.intake_queue import TICKETS, is_ticket  # noqa: E402
from space_app.safe_text import cell, md  # noqa: E402
from space_app.detail import FILTER_COLUMNS, FILTER_NOTE, NO_MODEL, build_detail, choices  # noqa: E402
from space_app.glossary import legend_markdown  # noqa: E402
from space_app.leaderboard_plots import auroc_vs_gt_match, gt_match_by_pool  # noqa: E402
from space_app.page_head import head_html  # noqa: E402
from space_app.queue_view import QUEUE_COLUMNS, queue_summary, queue_table  # noqa: E402
from space_app.submit import RateLimit, available_configs, on_space, status_text, submit_form  # noqa: E402
from submissions.export import LEADERBOARD_SCHEMA  # noqa: E402
from submissions.manifest import DATASET_CONFIGS, OUTPUT_KINDS  # noqa: E402
from submissions.store import FAILED, FINISHED, submissions_home  # noqa: E402
from submissions.sqlite_store import open_store  # noqa: E402

TITLE = "motifbench leaderboard"
INTRO = (
    "# motifbench\n"
    "Do a CNN's first-layer filters learn whole motifs? Models are scored on classification **and** on "
    "recovering the 12 ground-truth motifs embedded in the data (Koo & Eddy 2019; Koo & Ploenzke 2021). "
    "Click a row for the model's filter logos."
)
CSS = """
#leaderboard-table .cell-wrap { white-space: nowrap; }
#leaderboard-table table, #leaderboard-table .cell-wrap, #detail-filters .cell-wrap, #queue-table .cell-wrap {
  font-family: var(--font); font-variant-numeric: tabular-nums; font-size: var(--text-sm); }
#leaderboard-table th, #leaderboard-table td { padding-left: 2px !important; padding-right: 2px !important; }
/* the Model column stays in view when extra columns make the table scroll sideways */
#leaderboard-table th[data-heading="0"], #leaderboard-table [role=gridcell][data-col="0"],
#leaderboard-table th[data-heading="1"], #leaderboard-table [role=gridcell][data-col="1"] {
  position: sticky !important; left: 0; z-index: 3; background: var(--table-odd-background-fill);
  box-shadow: 1px 0 0 var(--border-color-primary); }
#leaderboard-table th[data-heading="1"], #leaderboard-table [role=gridcell][data-col="1"] { z-index: 4; }
.mb-logos .image-container, .mb-logos .image-frame { height: auto !important; }
.mb-logos img { width: 100% !important; height: auto !important; max-height: none !important; object-fit: contain; }
.mb-note { color: var(--body-text-color-subdued); font-size: var(--text-sm); }
#lb-legend ul { columns: 2; column-gap: 2em; font-size: var(--text-sm); }
"""
#: Theme fonts: Gradio's bundled Source Sans Pro and IBM Plex Mono, regular and *bold*. Their bundled
#: semibold (600) files are 55- and 75-glyph subsets, so semibold text fell back glyph by glyph to another
#: font; declaring 700 instead makes every bold run use the complete bold file.
FONT_WEIGHTS = (400, 700)


@contextmanager
def _store():
    store = open_store()
    try:
        yield store
    finally:
        store.close()


_SOURCE: lb.LeaderboardSource | None = None


def source() -> lb.LeaderboardSource:
    """The exported leaderboard table of the current data home (one reader per process)."""
    global _SOURCE
    path = submissions_home() / "leaderboard.parquet"
    if _SOURCE is None or _SOURCE.path != path:
        _SOURCE = lb.LeaderboardSource(path)
    return _SOURCE


def _csv_file(table: pd.DataFrame, view: lb.ViewKey | None, *selectors: object) -> str | None:
    """The shown table as a CSV for the download button: one file per table version and view (bounded cache)."""
    if view is None or table.empty:
        return None
    name = f"motifbench-{view.config}-v{view.version.lstrip('v')}-eval{view.evaluator_major}.csv"
    key = csv_key(source().version(), view, *selectors)
    return str(cached_csv(submissions_home() / "space_cache" / "csv", key, name, table))


def leaderboard_view(config: str | None, view_label: str | None, activation: str, kind: str,
                     columns: list[str], families: bool = False, picked: str | None = None) -> tuple:
    """Everything the Leaderboard tab shows for the current selectors (stale choices fall back to defaults).

    The detail view's model stays as picked (no value is sent; cleared if it is gone);
    :func:`preselect_leader` fills it when the detail tab opens, so a page load never builds a
    detail nobody looks at.
    """
    frame = source().frame()
    config, config_choices, config_views, view, activation, act_choices, rows = _current(
        frame, config, view_label, activation, kind)
    if families:
        from space_app.bundled_baselines import recorded_seed_rows
        from space_app.families import display_family_table

        table = display_family_table(rows, recorded_seed_rows())
    else:
        table = lb.display_table(rows, columns)
    if view is None:
        count = "No finished evaluations yet: submit a model in the Submit tab."
    else:
        count = (f"{len(table)} {'family row(s), mean ± sd over seeds (baseline families add the shipped records of the seeds not scored here),' if families else 'model(s)'} in "
                 f"**{md(view.label)}**. Ranked by GT match (rows whose 95% intervals overlap the leader's share "
                 "rank 1), then AUROC; ± = half the interval; click a header to sort, hover a header for its meaning.")
    model_choices = choices(frame)
    # A model still listed keeps its pick by not sending a value: this view may land after a row click's
    # open_detail (another queue) picked a newer model, and sending the pick it started with would
    # switch the detail back. A model that is gone is cleared.
    keep = picked in {value for _, value in model_choices}
    model_pick = gr.Dropdown(choices=model_choices) if keep else gr.Dropdown(choices=model_choices, value=None)
    return (
        gr.Radio(choices=[(cell(c), c) for c in config_choices], value=config),  # labels: text, capped
        gr.Dropdown(choices=[(cell(v.label), v.label) for v in config_views], value=view.label if view else None),
        gr.Dropdown(choices=[(cell(a), a) for a in act_choices], value=activation),
        lb.styled(table),
        gr.DownloadButton(value=_csv_file(table, view, activation, kind, tuple(columns or ())),
                          interactive=view is not None and not table.empty),
        count,
        model_pick,
    )


def _current(frame: pd.DataFrame, config: str | None, view_label: str | None, activation: str, kind: str):
    """Resolve the selectors against the data (stale choices fall back to defaults) and select the rows."""
    config_choices = lb.configs(frame)
    config = config if config in config_choices else (config_choices[0] if config_choices else None)
    config_views = lb.views(frame, config)
    view = next((v for v in config_views if v.label == view_label), config_views[0] if config_views else None)
    act_choices = lb.activations(frame, view)
    activation = activation if activation in act_choices else lb.ALL
    rows = lb.select_rows(frame, view, activation, kind)
    return config, config_choices, config_views, view, activation, act_choices, rows


def preselect_leader(picked: str | None, config: str | None, view_label: str | None, activation: str,
                     kind: str):
    """The detail tab opened with no model picked: pick the leader of the leaderboard view shown.

    The leader is the first row (best GT match, then AUROC); with no rows in the view, the newest model.
    Returns the id, or ``gr.skip()`` when a model is already picked (its detail is already shown).
    """
    frame = source().frame()
    model_choices = choices(frame)
    if picked in {value for _, value in model_choices}:
        return gr.skip()
    rows = _current(frame, config, view_label, activation, kind)[-1]
    return str(rows["id"].iloc[0]) if len(rows) else (model_choices[0][1] if model_choices else None)


def plots_view(config: str | None, view_label: str | None, activation: str, kind: str) -> tuple:
    """The leaderboard's two figures for the rows shown (run after the table, so the table shows first)."""
    rows = _current(source().frame(), config, view_label, activation, kind)[-1]
    return auroc_vs_gt_match(rows), gt_match_by_pool(rows)


def detail_view(submission_id: str | None) -> tuple:
    """The Model detail tab for one submission id."""
    frame = source().frame()
    if not submission_id and frame.empty:
        return (NO_MODEL, None, None, pd.DataFrame(columns=FILTER_COLUMNS), None, None,
                gr.DownloadButton(value=None, interactive=False), "", _shown_image(None), _shown_image(None))
    with _store() as store:
        d = build_detail(submission_id, frame, store=store)
    return (
        d.header,
        str(d.filter_logos) if d.filter_logos else None,
        str(d.truth_logos) if d.truth_logos else None,
        d.filters if d.filters is not None else pd.DataFrame(columns=FILTER_COLUMNS),
        d.per_class,
        d.coverage,
        gr.DownloadButton(value=str(d.record_file) if d.record_file else None, interactive=d.record_file is not None),
        d.attribution,
        _shown_image(d.pattern_logos),
        _shown_image(d.attribution_examples),
    )


def _shown_image(path) -> gr.Image:
    """An optional figure: shown when the record has it, hidden (no empty placeholder) when it does not."""
    return gr.Image(value=str(path) if path else None, visible=bool(path))


def open_detail(evt: gr.SelectData) -> tuple:
    """A click on a leaderboard row: pick that model in the detail view and switch to it."""
    row = evt.row_value or []
    submission_id = str(row[-1]) if row else None  # ID is always the last column
    return gr.Dropdown(value=submission_id), gr.Tabs(selected="detail")


def queue_view() -> tuple[str, pd.DataFrame]:
    with _store() as store:
        return queue_summary(store), queue_table(store)


def _form_fields(model_name, dataset_config, output_kind, first_layer_tap, license_, description, links,
                 framework, activation, pool, params) -> dict[str, Any]:
    return {
        "model_name": model_name, "dataset_config": dataset_config, "output_kind": output_kind,
        "first_layer_tap": first_layer_tap, "license": license_, "description": description, "links": links,
        "framework": framework, "activation": activation, "first_layer_pool": pool, "params": params,
    }


def _submit(model_file: str | None, submitter: str, fields: dict[str, Any]) -> tuple:
    with _store() as store:
        outcome = submit_form(model_file, {**fields, "submitter": submitter}, store, rate_limit=RateLimit.from_env(),
                              background=True)
        status = status_text(store.get(outcome.submission_id)) if outcome.accepted else ""
    tracked = outcome.submission_id if (outcome.accepted or outcome.pending) else None
    return outcome.message, tracked, status, gr.Timer(active=outcome.accepted or outcome.pending)


def submit_local(model_file, submitter, *fields) -> tuple:
    """Submit with the name typed in the form (local runs)."""
    return _submit(model_file, submitter or "", _form_fields(*fields))


def submit_space(model_file, *fields, profile: gr.OAuthProfile | None = None) -> tuple:
    """Submit as the Hugging Face user who is logged in (on a Space)."""
    if profile is None:
        return "**Not accepted**: sign in with Hugging Face first (button above).", None, "", gr.Timer(active=False)
    return _submit(model_file, profile.username, _form_fields(*fields))


def poll_status(tracked: str | None) -> tuple:
    """Timer tick: the background checks' outcome, then the submission's state; stops at FINISHED or FAILED.

    ``tracked`` is written back only when it changes (ticket -> submission id, or cleared): a tick that read
    the previous submission's id while a new upload was being submitted must not overwrite the new ticket.
    """
    if not tracked:
        return gr.update(), None, "", gr.Timer(active=False)
    if is_ticket(tracked):
        outcome = TICKETS.result(tracked)
        if outcome is None:
            if not TICKETS.known(tracked):  # the server restarted: nothing was stored for it
                return "**Not accepted**: the check was interrupted; upload again.", None, "", gr.Timer(active=False)
            return gr.update(), gr.update(), "checking…", gr.Timer(active=True)
        if not outcome.accepted:
            return outcome.message, None, "", gr.Timer(active=False)
        tracked = new_tracked = outcome.submission_id
        message = outcome.message
    else:
        message, new_tracked = gr.update(), gr.update()  # unchanged: leave the state as it is now
    with _store() as store:
        sub = store.get(tracked)
    done = sub is None or sub.state in (FINISHED, FAILED)
    return message, new_tracked, status_text(sub), gr.Timer(active=not done)


def dataset_note() -> str:
    configs = available_configs()
    if not configs:
        return "No dataset is installed on this server yet (run `motifbench data build synthetic`)."
    return "Scored against: " + ", ".join(f"**{md(c)}** v{md(v.lstrip('v'))}" for c, v in configs.items()) + "."


def build_demo() -> gr.Blocks:
    """The whole app. Data is loaded when a page opens (``demo.load``), never at build time."""
    space = on_space()
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs(selected="leaderboard") as tabs:
            with gr.Tab("Leaderboard", id="leaderboard") as lb_tab:
                with gr.Row(equal_height=True):
                    config = gr.Radio(label="Dataset", choices=[], elem_id="lb-config", scale=1)
                    version = gr.Dropdown(label="Dataset version · evaluator major", choices=[], elem_id="lb-version",
                                          scale=2, info="Rows of different versions are never mixed.")
                    activation = gr.Dropdown(label="First-layer activation", choices=[lb.ALL], value=lb.ALL,
                                             elem_id="lb-activation", scale=1)
                    kind = gr.Radio([lb.ALL, lb.BASELINE, lb.COMMUNITY], value=lb.ALL, label="Models",
                                    elem_id="lb-kind", scale=1)
                with gr.Accordion("Columns", open=False):
                    columns = gr.CheckboxGroup(list(lb.OPTIONAL_COLUMNS), value=list(lb.DEFAULT_COLUMNS),
                                               label="Shown columns (ID is always shown)", elem_id="lb-columns")
                    families = gr.Checkbox(False, label="One row per family (mean ± sd over its seeds, n)",
                                           elem_id="lb-families")
                table = gr.Dataframe(value=lb.display_table(lb.prepare(LEADERBOARD_SCHEMA.empty_table().to_pandas())),
                                     interactive=False, show_search="search", elem_id="leaderboard-table",
                                     max_height=640, wrap=False, pinned_columns=1, label="Leaderboard",
                                     show_label=False)
                with gr.Row():
                    count = gr.Markdown(elem_id="lb-count", latex_delimiters=[])
                    refresh = gr.Button("Refresh", elem_id="lb-refresh", size="sm", scale=0)
                    csv = gr.DownloadButton("Download CSV", elem_id="lb-csv", size="sm", scale=0, interactive=False)
                gr.Markdown("**What the numbers mean** (the same names and definitions as on About)\n\n"
                            + legend_markdown(), elem_id="lb-legend")
                with gr.Row():
                    scatter = gr.Plot(elem_id="lb-scatter", show_label=False, format="png")
                    by_pool = gr.Plot(elem_id="lb-by-pool", show_label=False, format="png")
            with gr.Tab("Model detail", id="detail") as detail_tab:
                model_pick = gr.Dropdown(label="Model", choices=[], elem_id="detail-model",
                                         info="Preselected: the leader of the leaderboard view. Click a leaderboard "
                                              "row to open another model.")
                header = gr.Markdown(elem_id="detail-header", latex_delimiters=[])
                gr.Markdown("#### First-layer filters, each above the ground-truth motif it matches\n"
                            "Top of each cell: the filter's logo (information in bits). Below it, aligned as Tomtom "
                            "aligned them: the ground-truth matrix the filter matched (green = counts as ground "
                            "truth). Under each cell: the best Tomtom match and why it counts.",
                            elem_classes=["mb-note"])
                filter_img = gr.Image(show_label=False, type="filepath", interactive=False,
                                      elem_id="filter-logos", elem_classes=["mb-logos"],
                                      buttons=["download", "fullscreen"])
                gr.Markdown("#### Filters and their best match\n" + FILTER_NOTE, elem_classes=["mb-note"])
                filters_df = gr.Dataframe(headers=FILTER_COLUMNS, interactive=False, show_label=False,
                                          elem_id="detail-filters", max_height=320, show_search="search", wrap=True)
                gr.Markdown("#### The 12 ground-truth motifs (JASPAR 2016, label order)", elem_classes=["mb-note"])
                truth_img = gr.Image(show_label=False, type="filepath", interactive=False, elem_id="truth-logos",
                                     elem_classes=["mb-logos"], buttons=["download", "fullscreen"])
                with gr.Row():
                    per_class = gr.Plot(show_label=False, elem_id="detail-per-class", format="png")
                    coverage = gr.Plot(show_label=False, elem_id="detail-coverage", format="png")
                attribution_md = gr.Markdown(elem_id="detail-attribution")
                # one figure per row, full width like the filter logos (side by side each was half as wide)
                # their captions are the last lines of attribution_md (a label badge would cover the first cell)
                patterns_img = gr.Image(label="TF-MoDISco patterns", show_label=False, type="filepath",
                                        interactive=False, elem_id="pattern-logos", elem_classes=["mb-logos"],
                                        buttons=["download", "fullscreen"], visible=False)
                examples_img = gr.Image(label="Example attribution maps", show_label=False, type="filepath",
                                        interactive=False,
                                        elem_id="attribution-examples", elem_classes=["mb-logos"],
                                        buttons=["download", "fullscreen"], visible=False)
                record_btn = gr.DownloadButton("Download full result record (JSON)", elem_id="detail-json",
                                               interactive=False)
            with gr.Tab("Submit", id="submit"):
                gr.Markdown("Upload one ONNX file (input `[batch, 4, L]`, output `[batch, 12]`; see About). "
                            "Checks run at once; accepted models are queued for evaluation.")
                note = gr.Markdown(elem_id="submit-dataset", latex_delimiters=[])
                with gr.Row():
                    with gr.Column(scale=1):
                        model_file = gr.File(label="model.onnx", file_types=[".onnx"], type="filepath",
                                             elem_id="submit-file")
                        if space:
                            gr.LoginButton()
                            submitter = None
                        else:
                            submitter = gr.Textbox(label="Submitter (your name)", elem_id="submit-submitter")
                    with gr.Column(scale=2):
                        with gr.Row():
                            model_name = gr.Textbox(label="Model name", elem_id="submit-name")
                            dataset_config = gr.Dropdown(list(DATASET_CONFIGS), value="synthetic", label="Dataset",
                                                         elem_id="submit-config")
                            output_kind = gr.Radio(list(OUTPUT_KINDS), value="probabilities", label="Output",
                                                   elem_id="submit-output")
                        with gr.Row():
                            license_ = gr.Textbox(value="MIT", label="License", elem_id="submit-license")
                            tap = gr.Textbox(label="First-layer tensor (optional)", elem_id="submit-tap",
                                             placeholder="default: the output named first_layer, else found automatically")
                        with gr.Row():
                            framework = gr.Textbox(label="Framework", placeholder="pytorch", elem_id="submit-framework")
                            act = gr.Textbox(label="First-layer activation", placeholder="relu / exp",
                                             elem_id="submit-activation")
                            pool = gr.Textbox(label="First-layer pool", placeholder="e.g. 4", elem_id="submit-pool")
                            params = gr.Textbox(label="Parameters", placeholder="e.g. 103448", elem_id="submit-params")
                        description = gr.Textbox(label="Description", lines=2, elem_id="submit-description")
                        links = gr.Textbox(label="Links (space separated URLs)", elem_id="submit-links")
                submit_btn = gr.Button("Submit", variant="primary", elem_id="submit-button")
                result = gr.Markdown(elem_id="submit-result", latex_delimiters=[])
                status = gr.Markdown(elem_id="submit-status", latex_delimiters=[])
                tracked = gr.State(None)
                timer = gr.Timer(2.0, active=False)
            with gr.Tab("Queue", id="queue") as queue_tab:
                queue_count = gr.Markdown(elem_id="queue-count", latex_delimiters=[])
                queue_df = gr.Dataframe(headers=QUEUE_COLUMNS, interactive=False, elem_id="queue-table",
                                        label="Running and pending jobs, then recent finished and failed ones",
                                        wrap=True, column_widths=["11%", "11%", "9%", "8%", "7%", "7%", "11%", "11%",
                                                                  "11%", "14%"])
                queue_refresh = gr.Button("Refresh", size="sm", elem_id="queue-refresh")
            with gr.Tab("About", id="about"):
                gr.Markdown(about_markdown(), elem_id="about")
                if (figure := results_figure()) is not None:
                    gr.Image(str(figure), label="Bundled baselines (docs/results.md)",
                             interactive=False, elem_id="about-figure", buttons=[])
                gr.Markdown(rounds_markdown, elem_id="about-rounds")  # a callable: read on every page load

        selectors = [config, version, activation, kind, columns, families]
        lb_inputs = [*selectors, model_pick]
        lb_outputs = [config, version, activation, table, csv, count, model_pick]
        plot_inputs, plot_outputs = [config, version, activation, kind], [scatter, by_pool]
        # the figures follow the table (each takes a few hundred ms to draw); a column change keeps them
        demo.load(leaderboard_view, lb_inputs, lb_outputs).then(plots_view, plot_inputs, plot_outputs)
        demo.load(dataset_note, None, note)
        for control in selectors:  # quick successive changes: the last one wins, none is dropped
            event = control.input(leaderboard_view, lb_inputs, lb_outputs, trigger_mode="always_last")
            if control is not columns:
                event.then(plots_view, plot_inputs, plot_outputs)
        refresh.click(leaderboard_view, lb_inputs, lb_outputs).then(plots_view, plot_inputs, plot_outputs)
        lb_tab.select(leaderboard_view, lb_inputs, lb_outputs).then(plots_view, plot_inputs, plot_outputs)
        table.select(open_detail, None, [model_pick, tabs])
        detail_tab.select(preselect_leader, [model_pick, *plot_inputs], model_pick)
        model_pick.change(detail_view, model_pick,
                          [header, filter_img, truth_img, filters_df, per_class, coverage, record_btn,
                           attribution_md, patterns_img, examples_img])

        fields = [model_name, dataset_config, output_kind, tap, license_, description, links, framework, act, pool,
                  params]
        submit_outputs = [result, tracked, status, timer]
        if space:
            submit_btn.click(submit_space, [model_file, *fields], submit_outputs)
        else:
            submit_btn.click(submit_local, [model_file, submitter, *fields], submit_outputs)
        timer.tick(poll_status, tracked, [result, tracked, status, timer])

        demo.load(queue_view, None, [queue_count, queue_df])
        queue_tab.select(queue_view, None, [queue_count, queue_df])
        queue_refresh.click(queue_view, None, [queue_count, queue_df])
    return demo


def launch_kwargs() -> dict[str, Any]:
    """Options every launch uses: local theme fonts, no share link, the result folders servable."""
    return {
        "theme": gr.themes.Default(font=[gr.themes.LocalFont("Source Sans Pro", weights=FONT_WEIGHTS), "ui-sans-serif",
                                         "system-ui", "sans-serif"],
                                   font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=FONT_WEIGHTS),
                                              "ui-monospace", "Consolas", "monospace"]),
        "css": CSS,
        "head": head_html(),
        # Gradio 6's English strings lack the key its status tracker announces to screen readers
        "i18n": gr.I18n(en={"common.complete": "Complete"}),
        "share": False,
        "allowed_paths": allowed_paths(),
        "blocked_paths": blocked_paths(),
        "max_file_size": "50mb",
        "footer_links": ["api", "settings"],
        "ssr_mode": False,
    }


demo = build_demo()

if __name__ == "__main__":  # a Hugging Face Space runs `python app.py`
    import os

    from space_app.service import serve

    if on_space() and "MOTIFBENCH_HOME" not in os.environ and Path("/data").is_dir():
        os.environ["MOTIFBENCH_HOME"] = "/data/motifbench"  # the Space's persistent storage, when enabled

    serve(demo, launch_kwargs(), host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
          port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
