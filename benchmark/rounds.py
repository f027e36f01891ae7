"""Hidden-test rounds: one secret seed per round, its public commitment, and rotation.

The leaderboard scores every submission on a *hidden* test drawn from the
published generator with a secret seed (:mod:`benchmark.hidden_test`). Each
round has an id (``r1``, ``r2``, ...) and a public **commitment**, the sha256
of its 32 seed bytes, shown on the About page and copied into every record
scored on it. When a round ends (:func:`rotate`) its seed is published in the
ledger, so anyone can check ``sha256(seed) == commitment``, regenerate that
round's test and reproduce every score of the round.

Why 32 random bytes (``secrets.token_bytes``): the commitment is public, so a
short seed could be found by hashing every candidate; 256 bits cannot. The
bytes seed NumPy's legacy Mersenne Twister through ``init_by_array`` (eight
32-bit words), the same generator the koo2019 preset uses.

Where things live (under the data home):

- ``rounds/secret``: the current seed as 64 hex digits, mode 0600, created
  on first ``serve``/``worker`` (:func:`ensure_round`). The environment
  variable :data:`SECRET_ENV` overrides it (how a Hugging Face Space passes
  secrets); a Space rotates by changing that secret, see docs/rounds.md.
- ``rounds/ledger.json``: public: every round's id, commitment, start, end
  and, once ended, its seed.

The secret is never returned by any function that builds public output:
:class:`Round` holds a seed only for an ended round, and :func:`load_secret`
is called by the worker alone.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmark.errors import MotifbenchError
from benchmark.files import atomic_write, exclusive_lock
from benchmark.paths import data_home

SEED_BYTES = 32
SECRET_ENV = "MOTIFBENCH_ROUND_SECRET"
#: Seeds of ended rounds to publish (64 hex digits each, separated by commas or spaces): how a Space whose
#: secret lives in :data:`SECRET_ENV` publishes the seed of the round it ended by changing that secret.
REVEAL_ENV = "MOTIFBENCH_REVEAL_SEEDS"
ROUNDS_DIR = "rounds"
SECRET_FILE = "secret"
LEDGER_FILE = "ledger.json"
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class RoundError(MotifbenchError):
    """A round operation that cannot be done as asked (e.g. rotating an environment-held secret)."""


@dataclass(frozen=True)
class Round:
    """One round of the hidden test (public facts only).

    Attributes
    ----------
    id : str
        ``r1``, ``r2``, ...
    commitment : str
        sha256 (hex) of the round's 32 seed bytes.
    started, ended : str
        UTC times (``ended`` None while the round runs).
    seed : str or None
        The seed (64 hex digits), published only once the round has ended
        by :func:`rotate`; None for the current round, and for a round whose
        environment secret was replaced without a rotate (never revealed).
    """

    id: str
    commitment: str
    started: str
    ended: str | None = None
    seed: str | None = None

    @property
    def current(self) -> bool:
        return self.ended is None

    def as_dict(self) -> dict:
        return asdict(self)


def commitment(seed: bytes) -> str:
    """The public commitment of a seed: sha256 of its bytes, hex."""
    return hashlib.sha256(bytes(seed)).hexdigest()


def parse_seed(text: str) -> bytes:
    """A seed as typed (64 hex digits) -> its 32 bytes; the error never echoes what was given."""
    text = (text or "").strip()
    if not _HEX.match(text):
        raise RoundError(f"a round seed is {2 * SEED_BYTES} hexadecimal digits (got {len(text)} characters that "
                         "are not); copy it from the round ledger (`motifbench round show`)")
    return bytes.fromhex(text)


def seed_words(seed: bytes) -> np.ndarray:
    """The seed as the uint32 array that seeds the legacy Mersenne Twister (``init_by_array``), shape (8,)."""
    if len(seed) != SEED_BYTES:
        raise RoundError(f"a round seed has {SEED_BYTES} bytes, got {len(seed)}")
    return np.frombuffer(bytes(seed), dtype="<u4").astype(np.uint32)


def rounds_dir(home: Path | None = None) -> Path:
    return (home or data_home()) / ROUNDS_DIR


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_secret_file(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, 0o600)  # someone widened it: narrow it back rather than keep serving a readable secret
    try:
        return parse_seed(path.read_text())
    except RoundError:
        raise RoundError(f"{path} does not hold a round seed ({2 * SEED_BYTES} hex digits); restore it from a "
                         "backup, or delete it to start a new round (the current round's seed is then lost)") from None


def secret_source(home: Path | None = None) -> str:
    """``"env"`` when :data:`SECRET_ENV` is set, else ``"file"``."""
    return "env" if os.environ.get(SECRET_ENV) else "file"


def load_secret(home: Path | None = None, create: bool = False) -> bytes | None:
    """The current round's seed: :data:`SECRET_ENV`, else the 0600 file; created with ``create``.

    Returns None when there is none and ``create`` is False. Only the worker
    (which draws the hidden test) and :func:`rotate` call this.
    """
    env = os.environ.get(SECRET_ENV)
    if env:
        try:
            return parse_seed(env)
        except RoundError:
            raise RoundError(f"${SECRET_ENV} must hold {2 * SEED_BYTES} hexadecimal digits (e.g. from "
                             "`python -c \"import secrets; print(secrets.token_hex(32))\"`)") from None
    path = rounds_dir(home) / SECRET_FILE
    if path.is_file():
        return _read_secret_file(path)
    if not create:
        return None
    seed = secrets.token_bytes(SEED_BYTES)
    atomic_write(path, seed.hex() + "\n")  # mkstemp's 0600 from creation
    return seed


def read_ledger(home: Path | None = None) -> list[Round]:
    """Every round, oldest first (empty before the first serve/worker)."""
    path = rounds_dir(home) / LEDGER_FILE
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text())["rounds"]
        return [Round(**entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise RoundError(f"{path} is not a round ledger: {exc}") from None


def _write_ledger(rounds: list[Round], home: Path | None) -> None:
    path = rounds_dir(home) / LEDGER_FILE
    text = json.dumps({"format": 1, "rounds": [r.as_dict() for r in rounds]}, indent=2) + "\n"
    atomic_write(path, text, mode=0o644)  # the public ledger


def _next_id(rounds: list[Round]) -> str:
    return f"r{len(rounds) + 1}"


def current_round(home: Path | None = None) -> Round | None:
    """The running round from the ledger (public facts), or None before the first one."""
    rounds = read_ledger(home)
    return rounds[-1] if rounds and rounds[-1].current else None


def find_round(key: str, home: Path | None = None) -> Round | None:
    """A round by id (``r2``) or commitment (full hex or a prefix of at least 8 digits)."""
    key = key.strip().lower()
    for r in read_ledger(home):
        if r.id == key or r.commitment == key or (len(key) >= 8 and r.commitment.startswith(key)):
            return r
    return None


def ensure_round(home: Path | None = None) -> Round:
    """The current round, creating the secret and round ``r1`` on first use (serve/worker start).

    When the secret in use (an environment variable a Space owner changed)
    no longer matches the ledger's current round, that round is closed
    unrevealed (its seed is not known here) and a new round opens. Seeds named
    by :data:`REVEAL_ENV` are then published (:func:`reveal`).
    """
    finish_interrupted_rotation(home)
    current = _open_round(home)
    _reveal_from_environment(home)
    return current


def _open_round(home: Path | None) -> Round:
    with exclusive_lock(rounds_dir(home) / ".lock"):
        seed = load_secret(home, create=True)
        assert seed is not None
        want = commitment(seed)
        rounds = read_ledger(home)
        if rounds and rounds[-1].current and rounds[-1].commitment == want:
            return rounds[-1]
        now = _utc_now()
        if rounds and rounds[-1].current:
            rounds[-1] = replace(rounds[-1], ended=now)
        known = next((r for r in rounds if r.commitment == want), None)
        if known is not None:
            raise RoundError(f"the round secret in use is the one of ended round {known.id}; a revealed seed must "
                             f"never be reused: set a new ${SECRET_ENV} (or delete {rounds_dir(home) / SECRET_FILE})")
        new = Round(id=_next_id(rounds), commitment=want, started=now)
        _write_ledger([*rounds, new], home)
        return new


@dataclass(frozen=True)
class Rotation:
    """What :func:`rotate` did: the round that ended (seed now public) and the one that started."""

    ended: Round
    started: Round


def rotate(home: Path | None = None) -> Rotation:
    """End the current round (publishing its seed) and start a new one with a fresh secret.

    Crash-safe order: the new seed is written to ``secret.next`` (0600), the
    ledger is rewritten (old round ended with its seed, new round current),
    then ``secret.next`` replaces ``secret``; :func:`ensure_round` finishes an
    interrupted rotation. Re-scoring the submissions is the caller's part
    (:func:`submissions.rescore.rotate_round`).
    """
    if secret_source(home) == "env":
        raise RoundError(f"the round secret comes from ${SECRET_ENV}: rotate by setting a new value there and "
                         "restarting (the ended round's seed is then yours to publish, see docs/rounds.md)")
    ensure_round(home)
    with exclusive_lock(rounds_dir(home) / ".lock"):
        folder = rounds_dir(home)
        old_seed = load_secret(home)
        assert old_seed is not None
        rounds = read_ledger(home)
        old = rounds[-1]
        if old.commitment != commitment(old_seed):  # pragma: no cover - ensure_round just made them agree
            raise RoundError("the round ledger and the secret disagree; run `motifbench round show` first")
        new_seed = secrets.token_bytes(SEED_BYTES)
        atomic_write(folder / (SECRET_FILE + ".next"), new_seed.hex() + "\n")
        now = _utc_now()
        ended = replace(old, ended=now, seed=old_seed.hex())
        started = Round(id=_next_id(rounds), commitment=commitment(new_seed), started=now)
        _write_ledger([*rounds[:-1], ended, started], home)
        os.replace(folder / (SECRET_FILE + ".next"), folder / SECRET_FILE)
        return Rotation(ended=ended, started=started)


def finish_interrupted_rotation(home: Path | None = None) -> None:
    """If a rotation died between writing the ledger and the secret, complete it."""
    folder = rounds_dir(home)
    pending = folder / (SECRET_FILE + ".next")
    if not pending.is_file():
        return
    with exclusive_lock(rounds_dir(home) / ".lock"):
        seed = _read_secret_file(pending)
        rounds = read_ledger(home)
        if rounds and rounds[-1].current and rounds[-1].commitment == commitment(seed):
            os.replace(pending, folder / SECRET_FILE)
        else:
            pending.unlink()  # died before the ledger named it: the old round simply goes on


def reveal(seed: bytes, home: Path | None = None) -> Round:
    """Publish the seed of an ended round in the ledger (after checking it against the round's commitment).

    For rounds that ended unrevealed: a Space whose secret came from
    :data:`SECRET_ENV` ends a round by changing that secret, so the service
    never learns the old seed; its owner publishes it here (``motifbench round
    reveal SEED``, or :data:`REVEAL_ENV` on the next start). The running
    round's seed is refused: it must stay secret until the round ends.
    """
    want = commitment(seed)
    with exclusive_lock(rounds_dir(home) / ".lock"):
        rounds = read_ledger(home)
        index = next((i for i, r in enumerate(rounds) if r.commitment == want), None)
        if index is None:
            raise RoundError("no round in the ledger has this seed's commitment (sha256); check the seed")
        found = rounds[index]
        if found.current:
            raise RoundError(f"round {found.id} is still running: its seed stays secret until the round ends "
                             f"(`motifbench round rotate`, or a new ${SECRET_ENV} and a restart)")
        if found.seed is None:
            rounds[index] = found = replace(found, seed=seed.hex())
            _write_ledger(rounds, home)
        return found


def _reveal_from_environment(home: Path | None) -> None:
    """Publish every seed :data:`REVEAL_ENV` names (ended rounds only; a malformed value is an error)."""
    text = os.environ.get(REVEAL_ENV, "")
    for item in re.split(r"[\s,]+", text.strip()) if text.strip() else []:
        try:
            seed = parse_seed(item)
        except RoundError:
            raise RoundError(f"${REVEAL_ENV} holds something that is not a {2 * SEED_BYTES}-hex-digit seed") from None
        reveal(seed, home)


def verify_round(round_: Round) -> bool:
    """True when an ended round's published seed hashes to its commitment."""
    if round_.seed is None:
        return False
    return commitment(parse_seed(round_.seed)) == round_.commitment
