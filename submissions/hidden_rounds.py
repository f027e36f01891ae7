"""The worker's side of hidden rounds: hold the secret, draw the round's test, hand the child only the draw.

The seed is read from the 0600 file (or ``$MOTIFBENCH_ROUND_SECRET``) by the
worker process only. For each job it writes the drawn sequences and their
ground truth (:func:`benchmark.hidden_test.save_draw`, mode 0600) into the
job's run folder for the sandboxed child, and the worker deletes the file as
soon as the child is done. A draw is cached per round, so a rotation (made by
``motifbench round rotate`` while the worker runs) is picked up at the next job.
"""
from __future__ import annotations

from pathlib import Path

from benchmark.hidden_test import hidden_info, hidden_sample, save_draw
from benchmark.rounds import commitment, ensure_round, load_secret


class HiddenRounds:
    """The current round's hidden test, drawn once per round.

    Parameters
    ----------
    home : Path, optional
        The data home holding ``rounds/`` (default: the current one). The
        round (and the secret, on first start) is created here.
    """

    def __init__(self, home: Path | None = None) -> None:
        self.home = home
        self._cache: tuple[str, object] | None = None
        ensure_round(home)

    def write_draw(self, path: Path, dataset_version: str) -> tuple[Path, dict]:
        """Write the current round's draw to ``path``; returns the path and ``{"id", "commitment"}``."""
        round_ = ensure_round(self.home)
        if self._cache is None or self._cache[0] != round_.commitment:
            seed = load_secret(self.home)
            if seed is None or commitment(seed) != round_.commitment:  # pragma: no cover - ensure_round aligns them
                raise RuntimeError("the round secret changed while drawing; retry the job")
            self._cache = (round_.commitment, hidden_sample(seed))
            del seed
        sample = self._cache[1]
        save_draw(sample, hidden_info(sample, round_.commitment, dataset_version), path)
        return path, {"id": round_.id, "commitment": round_.commitment}
