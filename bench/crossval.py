"""Cross-validation with one splitter protocol, in the spirit of scikit-learn's ``GroupKFold.split``:
a splitter yields (train indices, test indices) pairs, train indices ascending, and every held-out
loop in the bench (`heldout_errors`) goes through one. Random splits draw from
``np.random.default_rng(seed)``, the one RNG style of the bench.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

from pytest_tflite_latency.bench import train
from pytest_tflite_latency.bench.metrics import relative_errors

FOLDS, SEED = 5, 0  # nn-Meter profiles: 5 random folds, seed 0


class Splitter(Protocol):
    def split(self, X: Sequence, groups: Sequence[str] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train indices, test indices) per fold."""
        ...


class LeaveOneGroupOut:
    """One fold per group (a model family), groups in sorted order: a network never helps predict its
    own relatives."""

    def split(self, X: Sequence, groups: Sequence[str] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if groups is None:
            raise ValueError("LeaveOneGroupOut needs groups")
        g = np.asarray(groups)
        for name in sorted(set(g.tolist())):
            yield np.flatnonzero(g != name), np.flatnonzero(g == name)


class ShuffledKFold:
    """``n_splits`` folds of a seeded permutation (``np.array_split``); the test indices in the
    permutation's order."""

    def __init__(self, n_splits: int = FOLDS, seed: int = SEED):
        self.n_splits, self.seed = n_splits, seed

    def split(self, X: Sequence, groups: Sequence[str] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = np.random.default_rng(self.seed).permutation(len(X))
        for fold in np.array_split(order, self.n_splits):
            yield np.setdiff1d(np.arange(len(X)), fold), fold


def heldout_errors(folds: Iterable[tuple[np.ndarray, np.ndarray]], n: int,
                   fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Each of ``n`` items' relative error from ``fit_predict(train, test)`` (trained on ``train``, the
    errors of ``test``), over a splitter's folds (``splitter.split(X, groups)``, maybe in a progress bar)."""
    errors = np.zeros(n)
    for train_idx, test_idx in folds:
        errors[test_idx] = fit_predict(train_idx, test_idx)
    return errors


def cross_validate(records: list, algorithm: str, backend: str) -> np.ndarray:
    """Held-out relative errors (predicted / measured − 1), one per record, over `FOLDS` random folds."""
    def fit_predict(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
        f = train.fit([records[i] for i in tr], algorithm, SEED)
        test = [records[i] for i in te]
        return relative_errors(train.predict(test, f.profile(backend)), np.array([r.y_ms for r in test]))

    return heldout_errors(ShuffledKFold().split(records), len(records), fit_predict)
