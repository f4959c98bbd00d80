"""TextRank sentence centrality over a TF-IDF cosine graph, in numpy.

networkx's ``pagerank`` needs SciPy, which this project does not otherwise install, so the same
weighted power iteration is done here directly on an edge list. The graph is capped: each sentence
keeps only its ``top_k`` most similar neighbours, and very long sessions are ranked in chunks, so
memory grows linearly with the transcript and a three-hour session cannot blow up.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

TOP_K = 10
MIN_SIMILARITY = 0.05
# Above this many sentences, rank contiguous chunks separately: sessions drift between topics, so
# a chunk of ~25 minutes still contains what its neighbours would have voted for.
CHUNK = 1200
VOCAB_MAX = 4000
ROW_BLOCK = 512


def tfidf(docs: Sequence[Sequence[str]]) -> np.ndarray:
    """L2-normalised TF-IDF rows (sublinear tf, smoothed idf, as scikit-learn's defaults)."""
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    vocab_terms = [t for t, _ in df.most_common(VOCAB_MAX)]
    vocab = {t: i for i, t in enumerate(vocab_terms)}
    n = len(docs)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in vocab_terms], dtype=np.float32)
    matrix = np.zeros((n, len(vocab)), dtype=np.float32)
    for row, doc in enumerate(docs):
        for term, count in Counter(doc).items():
            col = vocab.get(term)
            if col is not None:
                matrix[row, col] = 1.0 + math.log(count)
    matrix *= idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def _pagerank(
    n: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, *, damping: float = 0.85
) -> np.ndarray:
    out_weight = np.bincount(rows, weights=weights, minlength=n)
    dangling = out_weight == 0
    safe_out = np.where(dangling, 1.0, out_weight)
    share = weights / safe_out[rows]
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        spread = np.bincount(cols, weights=rank[rows] * share, minlength=n)
        new = (1.0 - damping) / n + damping * (spread + rank[dangling].sum() / n)
        if np.abs(new - rank).sum() < 1e-6 * n:
            return new
        rank = new
    return rank


def _textrank_chunk(docs: Sequence[Sequence[str]]) -> np.ndarray:
    n = len(docs)
    if n == 1:
        return np.ones(1)
    x = tfidf(docs)
    k = min(TOP_K, n - 1)
    rows_all: list[np.ndarray] = []
    cols_all: list[np.ndarray] = []
    weights_all: list[np.ndarray] = []
    for lo in range(0, n, ROW_BLOCK):
        sims = x[lo : lo + ROW_BLOCK] @ x.T
        block = np.arange(sims.shape[0])
        sims[block, block + lo] = 0.0  # no self-loops
        neighbours = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(sims, neighbours, axis=1)
        keep = values > MIN_SIMILARITY
        rows_all.append(np.repeat(block + lo, k)[keep.ravel()])
        cols_all.append(neighbours.ravel()[keep.ravel()])
        weights_all.append(values.ravel()[keep.ravel()])
    rows = np.concatenate(rows_all)
    cols = np.concatenate(cols_all)
    weights = np.concatenate(weights_all).astype(np.float64)
    # Symmetrise: similarity is mutual, and a sentence that many others point to is central.
    rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    weights = np.concatenate([weights, weights])
    if rows.size == 0:
        return np.full(n, 1.0 / n)
    return _pagerank(n, rows, cols, weights)


def textrank(docs: Sequence[Sequence[str]]) -> list[float]:
    """Centrality per document (token lists), scaled so the most central is 1.0. Documents with no
    tokens score 0."""
    scores = [0.0] * len(docs)
    live = [i for i, d in enumerate(docs) if d]
    for lo in range(0, len(live), CHUNK):
        part = live[lo : lo + CHUNK]
        ranks = _textrank_chunk([docs[i] for i in part])
        top = float(ranks.max()) or 1.0
        for i, r in zip(part, ranks, strict=True):
            scores[i] = float(r) / top
    return scores


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)
