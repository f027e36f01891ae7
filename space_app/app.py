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

from space_app.settings import allowed_paths, quiet_env  # noqa: E402

quiet_env()

import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from space_app import leaderboard as lb  # noqa: E402
from space_app.about import about_markdown, results_figure  # noqa: E402
from space_app.integrity_view import rounds_markdown  # noqa: E402
from space_app.detail import FILTER_COLUMNS, build_detail, choices  # noqa: E402
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
.mb-logos { padding-top: 2.2em; }
.mb-logos .image-container, .mb-logos .image-frame { height: auto !important; }
.mb-logos img { width: 100% !important; height: auto !important; max-height: none !important; object-fit: contain; }
.mb-note { color: var(--body-text-color-subdued); font-size: var(--text-sm); }
"""
CSV_KEEP_SECONDS = 3600.0


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


def _csv_file(table: pd.DataFrame, view: lb.ViewKey | None) -> str | None:
    """Write the shown table to a CSV for the download button (old CSVs are swept)."""
    if view is None or table.empty:
        return None
    folder = submissions_home() / "space_cache" / "csv"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*.csv"):
        if now - old.stat().st_mtime > CSV_KEEP_SECONDS:
            old.unlink(missing_ok=True)
    name = f"motifbench-{view.config}-v{view.version.lstrip('v')}-eval{view.evaluator_major}-"
    fd, path = tempfile.mkstemp(prefix=name, suffix=".csv", dir=folder)
    with open(fd, "w", newline="") as handle:
        table.to_csv(handle, index=False)
    return path


def leaderboard_view(config: str | None, view_label: str | None, activation: str, kind: str,
                     columns: list[str], families: bool = False) -> tuple:
    """Everything the Leaderboard tab shows for the current selectors (stale choices fall back to defaults)."""
    frame = source().frame()
    config_choices = lb.configs(frame)
    config = config if config in config_choices else (config_choices[0] if config_choices else None)
    config_views = lb.views(frame, config)
    view = next((v for v in config_views if v.label == view_label), config_views[0] if config_views else None)
    act_choices = lb.activations(frame, view)
    activation = activation if activation in act_choices else lb.ALL
    rows = lb.select_rows(frame, view, activation, kind)
    if families:
        from space_app.families import display_family_table

        table = display_family_table(rows)
    else:
        table = lb.display_table(rows, columns)
    if view is None:
        count = "No finished evaluations yet: submit a model in the Submit tab."
    else:
        count = (f"{len(table)} {'family row(s), mean ± sd over seeds,' if families else 'model(s)'} in "
                 f"**{view.label}**. Ranked by GT match (rows whose 95% intervals overlap share a rank), then "
                 "AUROC; ± = half the interval; click a header to sort.")
    return (
        gr.Radio(choices=config_choices, value=config),
        gr.Dropdown(choices=[v.label for v in config_views], value=view.label if view else None),
        gr.Dropdown(choices=act_choices, value=activation),
        table,
        gr.DownloadButton(value=_csv_file(table, view), interactive=view is not None and not table.empty),
        count,
        gr.Dropdown(choices=choices(frame)),
    )


def detail_view(submission_id: str | None) -> tuple:
    """The Model detail tab for one submission id."""
    with _store() as store:
        d = build_detail(submission_id, source().frame(), store=store)
    return (
        d.header,
        str(d.filter_logos) if d.filter_logos else None,
        str(d.truth_logos) if d.truth_logos else None,
        d.filters if d.filters is not None else pd.DataFrame(columns=FILTER_COLUMNS),
        d.per_class,
        d.coverage,
        gr.DownloadButton(value=str(d.record_file) if d.record_file else None, interactive=d.record_file is not None),
        d.attribution,
        str(d.pattern_logos) if d.pattern_logos else None,
        str(d.attribution_examples) if d.attribution_examples else None,
    )


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
        outcome = submit_form(model_file, {**fields, "submitter": submitter}, store, rate_limit=RateLimit.from_env())
        status = status_text(store.get(outcome.submission_id)) if outcome.accepted else ""
    return outcome.message, outcome.submission_id if outcome.accepted else None, status, gr.Timer(active=outcome.accepted)


def submit_local(model_file, submitter, *fields) -> tuple:
    """Submit with the name typed in the form (local runs)."""
    return _submit(model_file, submitter or "", _form_fields(*fields))


def submit_space(model_file, *fields, profile: gr.OAuthProfile | None = None) -> tuple:
    """Submit as the Hugging Face user who is logged in (on a Space)."""
    if profile is None:
        return "**Not accepted**: sign in with Hugging Face first (button above).", None, "", gr.Timer(active=False)
    return _submit(model_file, profile.username, _form_fields(*fields))


def poll_status(submission_id: str | None) -> tuple:
    """Timer tick: the tracked submission's state; the timer stops once it is FINISHED or FAILED."""
    if not submission_id:
        return "", gr.Timer(active=False)
    with _store() as store:
        sub = store.get(submission_id)
    done = sub is None or sub.state in (FINISHED, FAILED)
    return status_text(sub), gr.Timer(active=not done)


def dataset_note() -> str:
    configs = available_configs()
    if not configs:
        return "No dataset is installed on this server yet (run `motifbench data build synthetic`)."
    return "Scored against: " + ", ".join(f"**{c}** v{v.lstrip('v')}" for c, v in configs.items()) + "."


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
                                     max_height=640, wrap=False, pinned_columns=1, label="Leaderboard")
                with gr.Row():
                    count = gr.Markdown(elem_id="lb-count")
                    refresh = gr.Button("Refresh", elem_id="lb-refresh", size="sm", scale=0)
                    csv = gr.DownloadButton("Download CSV", elem_id="lb-csv", size="sm", scale=0, interactive=False)
            with gr.Tab("Model detail", id="detail"):
                model_pick = gr.Dropdown(label="Model", choices=[], elem_id="detail-model")
                header = gr.Markdown(elem_id="detail-header")
                with gr.Row():
                    filter_img = gr.Image(label="First-layer filter logos, titled with the best Tomtom match "
                                          "(green * = ground truth)", type="filepath", interactive=False,
                                          elem_id="filter-logos", elem_classes=["mb-logos"], scale=3,
                                          buttons=["download", "fullscreen"])
                    truth_img = gr.Image(label="Ground-truth motifs (JASPAR 2016)", type="filepath", interactive=False,
                                         elem_id="truth-logos", elem_classes=["mb-logos"], scale=2,
                                         buttons=["download", "fullscreen"])
                filters_df = gr.Dataframe(headers=FILTER_COLUMNS, interactive=False, label="Filters and their best match",
                                          elem_id="detail-filters", max_height=320, show_search="search")
                with gr.Row():
                    per_class = gr.Plot(label="Per-class AUROC and auPR", elem_id="detail-per-class")
                    coverage = gr.Plot(label="12-TF coverage", elem_id="detail-coverage")
                attribution_md = gr.Markdown(elem_id="detail-attribution")
                with gr.Row():
                    patterns_img = gr.Image(label="TF-MoDISco patterns (left) beside their best ground-truth match",
                                            type="filepath", interactive=False, elem_id="pattern-logos",
                                            elem_classes=["mb-logos"], buttons=["download", "fullscreen"])
                    examples_img = gr.Image(label="Example attribution maps (green: the explained TF's sites, "
                                            "grey: other TFs)", type="filepath", interactive=False,
                                            elem_id="attribution-examples", buttons=["download", "fullscreen"])
                record_btn = gr.DownloadButton("Download full result record (JSON)", elem_id="detail-json",
                                               interactive=False)
            with gr.Tab("Submit", id="submit"):
                gr.Markdown("Upload one ONNX file (input `[batch, 4, L]`, output `[batch, 12]`; see About). "
                            "Checks run at once; accepted models are queued for evaluation.")
                note = gr.Markdown(elem_id="submit-dataset")
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
                result = gr.Markdown(elem_id="submit-result")
                status = gr.Markdown(elem_id="submit-status")
                tracked = gr.State(None)
                timer = gr.Timer(2.0, active=False)
            with gr.Tab("Queue", id="queue") as queue_tab:
                queue_count = gr.Markdown(elem_id="queue-count")
                queue_df = gr.Dataframe(headers=QUEUE_COLUMNS, interactive=False, elem_id="queue-table",
                                        label="Pending, running and failed submissions", wrap=True,
                                        column_widths=["11%", "12%", "9%", "9%", "7%", "6%", "12%", "12%", "22%"])
                queue_refresh = gr.Button("Refresh", size="sm", elem_id="queue-refresh")
            with gr.Tab("About", id="about"):
                gr.Markdown(about_markdown(), elem_id="about")
                if (figure := results_figure()) is not None:
                    gr.Image(str(figure), label="Bundled baselines (docs/results.md)",
                             interactive=False, elem_id="about-figure", buttons=[])
                gr.Markdown(rounds_markdown, elem_id="about-rounds")  # a callable: read on every page load

        selectors = [config, version, activation, kind, columns, families]
        lb_outputs = [config, version, activation, table, csv, count, model_pick]
        demo.load(leaderboard_view, selectors, lb_outputs)
        demo.load(dataset_note, None, note)
        for control in selectors:
            control.input(leaderboard_view, selectors, lb_outputs)
        refresh.click(leaderboard_view, selectors, lb_outputs)
        lb_tab.select(leaderboard_view, selectors, lb_outputs)
        table.select(open_detail, None, [model_pick, tabs])
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
        timer.tick(poll_status, tracked, [status, timer])

        queue_tab.select(queue_view, None, [queue_count, queue_df])
        queue_refresh.click(queue_view, None, [queue_count, queue_df])
    return demo


def launch_kwargs() -> dict[str, Any]:
    """Options every launch uses: local theme fonts, no share link, the result folders servable."""
    return {
        "theme": gr.themes.Default(),
        "css": CSS,
        "share": False,
        "allowed_paths": allowed_paths(),
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
