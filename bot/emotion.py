"""Emotion words in Japanese text: ML-Ask (mlask-official) over MeCab + IPAdic.

Everything comes from wheels: mecab-python3 and the `ipadic` dictionary
package, whose MeCab arguments are passed explicitly — with no arguments
MeCab looks for a system dictionary, and with unidic-lite installed it
silently switches dictionary and ML-Ask finds nothing. ML-Ask's on-disk
lemma cache is off (`use_cache=False`): nothing is written to ~/.cache; the
lemma table is built in memory once (~50 ms).
"""

from __future__ import annotations

import threading
from typing import Any


class EmotionReader:
    """Finds emotion words by category (ikari=anger, aware=sadness, …); thread-safe."""

    def __init__(self) -> None:
        self._analyzer: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._analyzer is None:
            import ipadic  # type: ignore[import-untyped]
            from mlask_official import MLAskOfficial  # type: ignore[import-untyped]

            self._analyzer = MLAskOfficial(ipadic.MECAB_ARGS, use_cache=False)
        return self._analyzer

    def read(self, text: str) -> dict[str, tuple[str, ...]]:
        """Emotion category → the words found for it (empty when none)."""
        if not text.strip():
            return {}
        with self._lock:  # a MeCab tagger is not safe to share between threads
            result = self._loaded().analyze(text)
        emotions = result.get("emotion") or {}
        return {str(category): tuple(str(w) for w in words) for category, words in emotions.items()}
