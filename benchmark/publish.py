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


def check_target(repo_id: str, tag: str, version: str, what: str = "dataset version") -> None:
    """The release checks every publish makes before touching the network: ``tag`` is
    ``vX.Y.Z`` and equals ``v<version>`` (the manifest's ``what``), ``repo_id`` is ORG/NAME."""
    if not TAG_PATTERN.match(tag):
        raise PublishError(f"tag {tag!r} is not of the form vX.Y.Z")
    if repo_id.count("/") != 1:
        raise PublishError(f"--repo-id {repo_id!r} must be ORG/NAME")
    if tag != f"v{version}":
        raise PublishError(f"tag {tag} does not match the manifest's {what} {version} (expected v{version})")


def hub_api(token: str | None = None):
    """An authenticated ``HfApi``; refused when the Hub is switched off or no token is available."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise PublishError("HF_HUB_OFFLINE=1 is set: publishing needs the Hugging Face Hub")
    from huggingface_hub import HfApi
    from huggingface_hub.utils import get_token

    token = token or get_token()
    if not token:
        raise PublishError("no Hugging Face token: run `huggingface-cli login` or set HF_TOKEN")
    return HfApi(token=token)


def upload_and_tag(folder: Path, repo_id: str, tag: str, *, repo_type: str, token: str | None = None,
                   private: bool = False, message: str) -> str:
    """Create the repo if needed, upload ``folder``, tag that commit; returns the commit URL.
    Any failure (network, auth, an existing tag) is a `PublishError`, never a half-claimed success."""
    api = hub_api(token)
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type=repo_type,
            commit_message=message,
            ignore_patterns=[".staging-*", ".old-*", ".*.tmp"],
        )
        api.create_tag(repo_id, tag=tag, repo_type=repo_type, revision=commit.oid, exist_ok=False)
    except Exception as exc:  # network, auth, existing tag: report, never half-claim success
        raise PublishError(f"publishing {folder} to {repo_id} failed: {exc}") from exc
    return str(commit.commit_url)


def publish(repo: str | Path, repo_id: str, tag: str, token: str | None = None, private: bool = False) -> str:
    """Upload ``repo`` to the dataset repo ``repo_id`` and tag it; returns the commit URL."""
    repo = Path(repo)
    if not TAG_PATTERN.match(tag):
        raise PublishError(f"tag {tag!r} is not of the form vX.Y.Z")
    verify_or_raise(repo)
    check_target(repo_id, tag, read_manifest(repo)["dataset_version"])
    return upload_and_tag(repo, repo_id, tag, repo_type="dataset", token=token, private=private,
                          message=f"motifbench dataset {tag}")
