"""Flow retrieval: how close a user message is to each startable flow.

Each startable user flow is described by its name, its id (``transfer_money`` -> "transfer
money"), each sentence of its description, and the examples of the intents in its
``nlu_trigger``. Patterns and flows guarded by ``if: false`` are left out (they only start
through links, calls or triggers).

A message's score for a flow is its best cosine similarity with one of those texts (or with all of
them together), averaged over two TF-IDF spaces: words and word pairs (without function words),
and character n-grams within words (robust to typos and inflections: "friend" ~ "friends"). The
score is lowered when the message is closer to one of a few messages that name no task ("help",
"thanks": `BACKGROUND`) than to the flow. It is a similarity in [0, 1], not a probability, so
one flow alone can be retrieved (its score says how close the message is) and two close flows
can be told apart by their margin. The
thresholds that turn scores into ``start flow`` or ``clarify`` commands are calibrated on the
labelled messages of ``make bench`` (see `engine.dialogue.model.DEFAULT_SETTINGS`).

No well-kept package ships a sentence-embedding model inside its wheel that runs without a
download at run time, so the model here is trained from the project's own texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from engine import pickled
from engine.formats import Flow, NluData

__all__ = ["FlowClassifier", "FlowIndex"]

CLASSIFIER_FILE = "flow_classifier.joblib"

#: Function words: they carry no meaning about which flow is wanted ("I want to ...").
_STOP_WORDS = """a an the i me my mine we our us you your he she it its they them their this that
    these
    those is are was were be been being am do does did doing have has had having will would
    shall should can could may might must to of in on at by for with from about as into onto
    and or but if then so than too very just also please want wanna like need would'd i'd i'm
    im i've ive let let's lets some any all there here what which who whom how when where why
    okay ok thanks thank up out over again now today"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_WORD = re.compile(r"[\w']+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+|\s+-\s+")


def _trainable(flow: Flow) -> bool:
    return not flow.id.startswith("pattern_") and flow.guard is not False


#: Everyday words and the word flows most often use for them; a message's word is kept and the
#: other is added ("hi" -> "hi hello", "delete" -> "delete remove").
SAME_MEANING = {
    "hi": "hello",
    "hey": "hello",
    "hiya": "hello",
    "howdy": "hello",
    "greetings": "hello",
    "bye": "goodbye",
    "farewell": "goodbye",
    "cya": "goodbye",
    "robot": "bot",
    "machine": "bot",
    "delete": "remove",
    "erase": "remove",
    "pay": "send",
    "wire": "send",
    "cash": "money",
    "funds": "money",
    "statement": "statements",
    "cancel": "block",
    "freeze": "block",
}

#: Messages that name no task: flow retrieval's competitor. A flow scores below its similarity
#: when one of these is closer to the message ("help" is not a money transfer because the
#: transfer flow's description says "help users send money").
BACKGROUND = (
    "help",
    "help me",
    "can you help me",
    "what can you do",
    "hello",
    "good morning",
    "thanks",
    "thank you",
    "goodbye",
    "how are you",
    "who are you",
    "tell me a joke",
    "what is the weather like",
    "I have a question",
    "yes",
    "no",
    "test",
)


def _content(text: str, *, expand: bool = False) -> str:
    """The words of `text` that carry meaning; with `expand` (messages, not the flows' texts)
    the word of `SAME_MEANING` is added to the message's own."""
    words: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        words.append(word)
        if expand and word in SAME_MEANING:
            words.append(SAME_MEANING[word])
    return " ".join(words)


def _flow_texts(flow: Flow, examples: dict[str, list[str]]) -> list[str]:
    texts = [flow.id.replace("_", " ").replace("-", " ")]
    if flow.name:
        texts.append(flow.name)
    if flow.description:
        texts.append(flow.description)
        parts = [p.strip(" -*•\t") for p in _SENTENCE.split(flow.description)]
        texts.extend(p for p in parts if len(_WORD.findall(p)) >= 2)
    for trigger in flow.nlu_trigger or []:
        texts.extend(examples.get(trigger.intent, []))
    seen: dict[str, None] = {}
    for text in texts:
        if _content(text):
            seen.setdefault(text, None)
    return list(seen)


@dataclass
class FlowIndex:
    """The vectors of every flow's texts; `owner[i]` is the flow of row i."""

    labels: list[str] = field(default_factory=list)
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    word: TfidfVectorizer | None = None
    char: TfidfVectorizer | None = None
    word_rows: sp.csc_matrix | None = None
    char_rows: sp.csc_matrix | None = None

    @classmethod
    def build(cls, texts_by_flow: dict[str, list[str]]) -> FlowIndex:
        labels = [label for label, texts in texts_by_flow.items() if texts]
        texts: list[str] = []
        owner: list[int] = []
        for index, label in enumerate(labels):
            own = texts_by_flow[label]
            # All of a flow's texts together are one more row: many weak overlaps add up.
            for text in [*own, " ".join(own)]:
                texts.append(_content(text))
                owner.append(index)
        # The background rows belong to one more label after the flows' (see `scores`).
        for text in BACKGROUND:
            if _content(text):
                texts.append(_content(text))
                owner.append(len(labels))
        if not texts:
            return cls()
        word = TfidfVectorizer(
            analyzer="word",
            token_pattern=r"[\w']+",
            ngram_range=(1, 2),
            sublinear_tf=True,
            lowercase=True,
        )
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        return cls(
            labels=labels,
            owner=np.asarray(owner, dtype=np.int32),
            word=word,
            char=char,
            word_rows=word.fit_transform(texts).tocsc(),
            char_rows=char.fit_transform(texts).tocsc(),
        )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_starts", "_analyzers")}

    def _group_starts(self) -> np.ndarray | None:
        """Where each label's rows start, when the rows come label by label (as `build` makes
        them) and every label has some; None otherwise."""
        cached = self.__dict__.get("_starts", False)
        if cached is not False:
            return cast("np.ndarray | None", cached)
        owner = self.owner
        starts: np.ndarray | None = None
        steps = np.diff(owner)
        ordered = len(owner) and owner[0] == 0 and np.all((steps == 0) | (steps == 1))
        if ordered and int(owner[-1]) == len(self.labels):
            starts = np.flatnonzero(np.r_[1, steps]).astype(np.intp)
        self.__dict__["_starts"] = starts
        return starts

    def scores(self, text: str) -> np.ndarray:
        """One score per label: the best similarity of `text` with one of the label's rows."""
        out = np.zeros(len(self.labels) + 1)
        content = _content(text, expand=True)
        if not content or self.word is None or self.char is None:
            return out[:-1]
        assert self.word_rows is not None and self.char_rows is not None
        analyzers = self.__dict__.get("_analyzers")
        if analyzers is None:  # built once (not kept in the model file)
            analyzers = self.__dict__["_analyzers"] = (
                self.word.build_analyzer(),
                self.char.build_analyzer(),
            )
        rows = 0.5 * _similarities(self.word, analyzers[0], self.word_rows, content)
        rows += 0.5 * _similarities(self.char, analyzers[1], self.char_rows, content)
        starts = self._group_starts()
        if starts is not None:
            out = np.maximum.reduceat(rows, starts)
        else:
            np.maximum.at(out, self.owner, rows)
        flows, background = out[:-1], out[-1]
        # Closer to a message that names no task: the flow loses half the difference.
        flows = flows - 0.5 * np.maximum(0.0, background - flows)
        clipped: np.ndarray = np.clip(flows, 0.0, 1.0)
        return clipped


def _similarities(
    vectorizer: TfidfVectorizer, analyze: Any, rows: sp.csc_matrix, text: str
) -> np.ndarray:
    """Cosine similarity of `text` with every row: the TF-IDF vector of `text` is computed
    as the fitted vectorizer would (sublinear tf, idf, l2 norm), without its per-call overhead
    (a reply must take milliseconds)."""
    counts: dict[int, int] = {}
    vocabulary = vectorizer.vocabulary_
    for term in analyze(text):
        index = vocabulary.get(term)
        if index is not None:
            counts[index] = counts.get(index, 0) + 1
    if not counts:
        return np.zeros(rows.shape[0])
    columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
    values = (1.0 + np.log(np.fromiter(counts.values(), dtype=float))) * vectorizer.idf_[columns]
    values /= np.linalg.norm(values)
    # rows[:, columns] @ values, read straight from the CSC arrays (scipy's column slicing
    # costs more than the product).
    indptr = rows.indptr
    starts = indptr[columns]
    lengths = indptr[columns + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(rows.shape[0])
    # The positions of every stored value of the columns: each column's run of positions.
    positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    weights = rows.data[positions] * np.repeat(values, lengths)
    similarities: np.ndarray = np.bincount(
        rows.indices[positions], weights=weights, minlength=rows.shape[0]
    )
    return similarities


class FlowClassifier:
    """Rank startable flows for a message (see the module docstring)."""

    def __init__(self, index: FlowIndex | None = None) -> None:
        self.index = index or FlowIndex()

    @property
    def labels(self) -> list[str]:
        return list(self.index.labels)

    @classmethod
    def train(cls, flows: list[Flow], nlu_data: NluData | None = None) -> FlowClassifier:
        examples: dict[str, list[str]] = {}
        for block in nlu_data.intents if nlu_data is not None else []:
            examples.setdefault(block.intent, []).extend(ex.text for ex in block.examples)
        texts = {flow.id: _flow_texts(flow, examples) for flow in flows if _trainable(flow)}
        return cls(FlowIndex.build(texts))

    def rank(self, text: str) -> list[dict[str, Any]]:
        """``[{"name": flow_id, "confidence": score}, ...]`` for every flow, best first."""
        if not text or not text.strip() or not self.index.labels:
            return []
        scores = self.index.scores(text).tolist()
        labels = self.index.labels
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], labels[i]))
        return [{"name": labels[i], "confidence": scores[i]} for i in order]

    def persist(self, directory: Path | str) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        pickled.dump(self.index, directory / CLASSIFIER_FILE)

    @classmethod
    def load(cls, directory: Path | str) -> FlowClassifier:
        """Load a classifier written by `persist` (pickles: load only trusted directories)."""
        index = pickled.load(Path(directory) / CLASSIFIER_FILE)
        if not isinstance(index, FlowIndex):
            raise ValueError("flow classifier file does not hold a flow index; retrain the model")
        return cls(index)
