"""`motifbench data ...` and `motifbench motifs`: build, verify, publish and inspect datasets."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmark.paths import default_dataset_dir


def _cmd_build_synthetic(args: argparse.Namespace) -> int:
    from benchmark.synthetic import build_synthetic

    out = Path(args.out) if args.out else default_dataset_dir()
    manifest = build_synthetic(out, preset=args.preset, n=args.n, length=args.length, seed=args.seed,
                               progress=not args.quiet)
    cfg = manifest["configs"]["synthetic"]
    print(f"built config 'synthetic' (dataset version {manifest['dataset_version']}) in {out}")
    for split, info in cfg["splits"].items():
        print(f"  {split:<10} {info['rows']:>7,} rows  {info['path']}  sha256 {info['sha256'][:16]}…")
    print("load it with:")
    print(f"  from datasets import load_dataset; ds = load_dataset({str(out)!r}, 'synthetic')")
    return 0


def _cmd_build_deepsea(args: argparse.Namespace) -> int:
    from benchmark.deepsea import cli_build

    return cli_build(args)


def _cmd_verify(args: argparse.Namespace) -> int:
    from benchmark.verify import verify

    repo = Path(args.dir) if args.dir else default_dataset_dir()
    report = verify(repo)
    if args.json:
        print(json.dumps({"ok": report.ok, "rows": report.rows, "problems": report.problems}, indent=2))
    elif report.ok:
        print(f"OK: {repo} matches its manifest ({len(report.checked_files)} files, {sum(report.rows.values()):,} rows)")
    else:
        print(f"FAILED: {repo}", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
    return 0 if report.ok else 3


def _cmd_publish(args: argparse.Namespace) -> int:
    from benchmark.publish import publish

    url = publish(Path(args.dir), args.repo_id, args.tag, token=args.token, private=args.private)
    print(f"published {args.dir} to {args.repo_id} as {args.tag}: {url}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from benchmark.dataset_repo import read_manifest
    from benchmark.loader import resolve_source

    path, _ = resolve_source(args.dir, args.revision)
    print(json.dumps(read_manifest(path), indent=2))
    return 0


def _cmd_motifs(args: argparse.Namespace) -> int:
    from benchmark.motifs import load_motif_set

    ms = load_motif_set(args.jaspar)
    if args.meme:
        ms.write_meme(args.meme)
        print(f"wrote the {len(ms)} ground-truth motifs to {args.meme}")
        return 0
    print(f"{'idx':>3}  {'TF':<7} {'JASPAR':<9} {'width':>5} {'IC bits':>7}  accepted IDs")
    for row in ms.table():
        print(f"{row['index']:>3}  {row['tf']:<7} {row['jaspar_id']:<9} {row['width']:>5} {row['information_bits']:>7}  "
              f"{', '.join(row['accepted_ids'])}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="build, verify, publish and inspect the benchmark datasets",
                          description="Build, verify, publish and inspect the motifbench Hugging Face dataset repo.")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")

    build = dsub.add_parser("build", help="build a dataset config into a dataset repo folder")
    bsub = build.add_subparsers(dest="config", metavar="CONFIG")
    syn = bsub.add_parser("synthetic", help="the Koo & Eddy (2019) 12-motif synthetic set",
                          description="Generate the synthetic config (preset koo2019 = the published set, bit-exact).")
    syn.add_argument("--out", help=f"dataset repo folder (default: {default_dataset_dir()})")
    syn.add_argument("--preset", default="koo2019", choices=["koo2019", "fast"],
                     help="koo2019: published generator, bit-exact; fast: vectorised, same distribution")
    syn.add_argument("--n", type=int, help="number of sequences (preset default 25,000)")
    syn.add_argument("--length", type=int, help="sequence length (preset default 200)")
    syn.add_argument("--seed", type=int, help="random seed (koo2019 default 33)")
    syn.add_argument("--quiet", action="store_true", help="no progress bar")
    syn.set_defaults(func=_cmd_build_synthetic)

    deep = bsub.add_parser("deepsea", help="the truncated-DeepSEA in vivo set from the DeepSEA training bundle",
                           description="Stream the DeepSEA bundle (deepsea_train/) into the `deepsea` config.")
    deep.add_argument("--bundle", required=True, help="the unpacked deepsea_train/ folder (or its .tar.gz)")
    deep.add_argument("--out", help=f"dataset repo folder (default: {default_dataset_dir()})")
    deep.add_argument("--fimo-threshold", type=float, default=1e-4, help="FIMO p-value threshold for putative sites")
    deep.add_argument("--chunk-rows", type=int, default=20_000,
                      help="source rows read per slice (bounds memory, does not change the output)")
    deep.add_argument("--no-fimo", action="store_true",
                      help="skip the FIMO scan: every `motifs` list is empty (manifest: annotated false)")
    deep.add_argument("--quiet", action="store_true", help="no progress bar")
    deep.set_defaults(func=_cmd_build_deepsea)

    ver = dsub.add_parser("verify", help="re-hash files and check schema, counts and consistency",
                          description="Exit 0 if the folder matches its manifest, 3 (naming each problem) if not.")
    ver.add_argument("dir", nargs="?", help=f"dataset repo folder (default: {default_dataset_dir()})")
    ver.add_argument("--json", action="store_true", help="machine-readable report")
    ver.set_defaults(func=_cmd_verify)

    pub = dsub.add_parser("publish", help="upload a verified folder to the Hub and tag the version",
                          description="Upload with huggingface_hub and tag vX.Y.Z; refuses unverified folders.")
    pub.add_argument("dir", help="dataset repo folder")
    pub.add_argument("--repo-id", required=True, help="ORG/NAME on the Hugging Face Hub")
    pub.add_argument("--tag", required=True, help="vX.Y.Z, must match manifest.json's dataset_version")
    pub.add_argument("--token", help="Hugging Face token (default: the logged-in token or HF_TOKEN)")
    pub.add_argument("--private", action="store_true", help="create the repo as private")
    pub.set_defaults(func=_cmd_publish)

    info = dsub.add_parser("info", help="print a dataset's manifest",
                           description="Print manifest.json of a local folder or Hub id.")
    info.add_argument("dir", nargs="?", help="dataset repo folder or Hub id (default: the data home's)")
    info.add_argument("--revision", help="Hub revision (tag vX.Y.Z, branch or commit)")
    info.set_defaults(func=_cmd_info)

    data.set_defaults(func=lambda a: (data.print_help(), 2)[1])
    build.set_defaults(func=lambda a: (build.print_help(), 2)[1])

    motifs = sub.add_parser("motifs", help="list the 12 ground-truth motifs or export them as MEME",
                            description="The 12 JASPAR 2016 ground-truth motifs in label order.")
    motifs.add_argument("--meme", help="write a MEME motif file here instead of printing the table")
    motifs.add_argument("--jaspar", type=int, default=2016, help="JASPAR release (default 2016)")
    motifs.set_defaults(func=_cmd_motifs)
