"""`motifbench data publish`: push a verified dataset folder to the Hub and tag its version.

Refuses before any network call when the folder fails `verify`, when the tag
is not ``vX.Y.Z`` matching the manifest's dataset version, when no token is
available, or when the Hub is switched off (HF_HUB_OFFLINE=1), so a
publish can never ship unverified or half-described data.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from benchmark.dataset_repo import read_manifest
from benchmark.errors import MotifbenchError
from benchmark.verify import verify_or_raise

TAG_PATTERN = re.compile(r"^v\d+\.\d+\.\d+$")


class PublishError(MotifbenchError):
    """Publishing was refused or failed; nothing (or nothing new) was pushed."""


def publish(repo: str | Path, repo_id: str, tag: str, token: str | None = None, private: bool = False) -> str:
    """Upload ``repo`` to the dataset repo ``repo_id`` and tag it; returns the commit URL."""
    repo = Path(repo)
    if not TAG_PATTERN.match(tag):
        raise PublishError(f"tag {tag!r} is not of the form vX.Y.Z")
    if repo_id.count("/") != 1:
        raise PublishError(f"--repo-id {repo_id!r} must be ORG/NAME")
    verify_or_raise(repo)
    version = read_manifest(repo)["dataset_version"]
    if tag != f"v{version}":
        raise PublishError(f"tag {tag} does not match the manifest's dataset version {version} (expected v{version})")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise PublishError("HF_HUB_OFFLINE=1 is set: publishing needs the Hugging Face Hub")
    from huggingface_hub import HfApi
    from huggingface_hub.utils import get_token

    token = token or get_token()
    if not token:
        raise PublishError("no Hugging Face token: run `huggingface-cli login` or set HF_TOKEN")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(repo),
            repo_id=repo_id,
            repo_type="dataset",
            commit_message=f"motifbench dataset {tag}",
            ignore_patterns=[".staging-*", ".old-*", ".*.tmp"],
        )
        api.create_tag(repo_id, tag=tag, repo_type="dataset", revision=commit.oid, exist_ok=False)
    except Exception as exc:  # network, auth, existing tag: report, never half-claim success
        raise PublishError(f"publishing {repo} to {repo_id} failed: {exc}") from exc
    return str(commit.commit_url)
