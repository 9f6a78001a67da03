"""Enterprise search without a vector database: BM25 over the assistant's knowledge documents.

`KnowledgeBase.build` reads the project's knowledge files (``docs/`` and the folders
config.yml's ``EnterpriseSearchPolicy`` names as ``vector_store.source``), splits text and
Markdown into passages (one per paragraph, with the heading it is under), and is persisted
with the dialogue model at training time. `KnowledgeBase.search` ranks passages with Okapi
BM25 (`rank_bm25`); `KnowledgeBase.answer` answers with the best passage, or, given an `llm`
callable (prompt in, text out), with what the LLM makes of the best passages.

Files that are not text (PDFs, images) are left out with a log line.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rank_bm25 import BM25Okapi

__all__ = ["KNOWLEDGE_FILE", "KnowledgeBase", "Passage", "SearchResult", "search_prompt"]

log = logging.getLogger(__name__)

KNOWLEDGE_FILE = "knowledge.json"
FORMAT_VERSION = 1
#: Paragraphs longer than this are split between lines.
MAX_PASSAGE_CHARS = 1200
#: The share of a query's weight a passage must contain to be relevant (see `search`).
MIN_COVERAGE = 0.5
#: How many passages an LLM sees.
LLM_PASSAGES = 3
_TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".text", ".rst")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FAQ = re.compile(r"^Q:[^\n]*\nA:\s*(.+)$", re.DOTALL)
_TOKEN = re.compile(r"\w+", re.UNICODE)
# Words too common to tell passages apart (English; others pass through).
_STOPWORDS = frozenset(
    (
        "a",
        "about",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    )
)


def tokens(text: str) -> list[str]:
    """Lower-cased words without stopwords; plural ``s`` is dropped from longer words."""
    out = []
    for word in _TOKEN.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


@dataclass(frozen=True)
class Passage:
    """A piece of a document: its `source` path, the heading it is under, and its text."""

    source: str
    title: str
    text: str

    @property
    def answer_text(self) -> str:
        """The text to answer with: an FAQ entry (``Q: ...`` then ``A: ...``) answers with
        its answer."""
        match = _FAQ.match(self.text)
        return (match.group(1).strip() if match else self.text) or self.title


@dataclass(frozen=True)
class SearchResult:
    passage: Passage
    score: float


def split_passages(path: str, text: str) -> list[Passage]:
    """Passages of one document: one per paragraph, titled by the Markdown heading it is under
    (in a text file, a short first line on its own is the title). Paragraphs longer than
    `MAX_PASSAGE_CHARS` are split between lines."""
    markdown = path.lower().endswith((".md", ".markdown"))
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        match = _HEADING.match(line) if markdown else None
        if match:
            sections.append((match.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    if not markdown:
        paragraphs = _paragraphs(sections[0][1])
        if len(paragraphs) > 1 and _is_title(paragraphs[0]):
            sections = [(paragraphs[0], "\n\n".join(paragraphs[1:]).splitlines())]
    passages = []
    for title, lines in sections:
        paragraphs = _paragraphs(lines)
        if not paragraphs and title:
            passages.append(Passage(path, title, ""))
        for paragraph in paragraphs:
            passages.extend(Passage(path, title, chunk) for chunk in _chunks(paragraph))
    return passages


def _paragraphs(lines: list[str]) -> list[str]:
    return [p.strip() for p in "\n".join(lines).split("\n\n") if p.strip()]


def _is_title(paragraph: str) -> bool:
    return "\n" not in paragraph and len(paragraph) <= 100 and not paragraph.endswith((".", "?"))


def _chunks(paragraph: str) -> list[str]:
    if len(paragraph) <= MAX_PASSAGE_CHARS:
        return [paragraph]
    chunks: list[str] = []
    current = ""
    for line in paragraph.splitlines():
        while len(line) > MAX_PASSAGE_CHARS:  # one very long line: cut between words
            cut = line.rfind(" ", 0, MAX_PASSAGE_CHARS)
            cut = cut if cut > 0 else MAX_PASSAGE_CHARS
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut].strip())
            line = line[cut:].strip()
        if current and len(current) + 1 + len(line) > MAX_PASSAGE_CHARS:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return [c for c in chunks if c]


def search_prompt(question: str, passages: list[Passage]) -> str:
    """The prompt an LLM answers a knowledge question with, from the best passages."""
    documents = "\n\n".join(
        f"[{i}] {p.source}{' - ' + p.title if p.title else ''}\n{p.answer_text}"
        for i, p in enumerate(passages, 1)
    )
    return (
        "You answer the user's question using only the documents below. Answer briefly, in "
        "the user's language. If the documents do not contain the answer, say that you "
        "don't know.\n\n"
        f"Documents:\n{documents}\n\nQuestion: {question}\nAnswer:"
    )


@dataclass
class KnowledgeBase:
    """The passages of the knowledge documents, ranked with BM25."""

    passages: list[Passage] = field(default_factory=list)
    _index: BM25Okapi | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def build(cls, files: Mapping[str, str | bytes]) -> KnowledgeBase:
        """From documents by path; files that are not text are left out (logged)."""
        passages: list[Passage] = []
        for path, content in sorted(files.items()):
            if not isinstance(content, str) or not path.lower().endswith(_TEXT_SUFFIXES):
                log.info("knowledge base: %s left out (only text and Markdown are read)", path)
                continue
            passages.extend(p for p in split_passages(path, content) if tokens(p.title + p.text))
        return cls(passages)

    def __bool__(self) -> bool:
        return bool(self.passages)

    def _bm25(self) -> BM25Okapi:
        if self._index is None:
            self._index = BM25Okapi([tokens(f"{p.title} {p.text}") for p in self.passages])
        return self._index

    def search(self, query: str, k: int = LLM_PASSAGES) -> list[SearchResult]:
        """The best `k` relevant passages for `query`, best first.

        A passage is relevant when the query words it contains carry at least
        `MIN_COVERAGE` of the query's weight (each word weighs its inverse document
        frequency; a word no passage has, the average), so that one shared common word does
        not make an answer."""
        words = list(dict.fromkeys(tokens(query)))
        if not self.passages or not words:
            return []
        bm25 = self._bm25()
        scores = bm25.get_scores(words)
        unknown = sum(bm25.idf.values()) / max(len(bm25.idf), 1)
        weights = {w: max(float(bm25.idf.get(w, unknown)), 1e-6) for w in words}
        total = sum(weights.values())
        ranked = sorted(range(len(self.passages)), key=lambda i: (-scores[i], i))
        results = []
        for i in ranked:
            passage = self.passages[i]
            present = set(tokens(f"{passage.title} {passage.text}"))
            if sum(v for w, v in weights.items() if w in present) < MIN_COVERAGE * total:
                continue
            results.append(SearchResult(passage, float(scores[i])))
            if len(results) == k:
                break
        return results

    def answer(
        self, query: str, llm: Callable[[str], str] | None = None
    ) -> tuple[str, list[SearchResult]] | None:
        """The answer to `query` with the passages it came from, or None when no passage is
        relevant (or the LLM gave nothing). Errors of `llm` propagate."""
        results = self.search(query)
        if not results:
            return None
        if llm is None:
            return results[0].passage.answer_text, results[:1]
        text = llm(search_prompt(query, [r.passage for r in results])).strip()
        return (text, results) if text else None

    # -- persistence -----------------------------------------------------------------------------

    def persist(self, directory: Path | str) -> None:
        data = {"format_version": FORMAT_VERSION, "passages": [asdict(p) for p in self.passages]}
        (Path(directory) / KNOWLEDGE_FILE).write_text(
            json.dumps(data, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path | str) -> KnowledgeBase:
        """The persisted knowledge base; an empty one when the model has none."""
        path = Path(directory) / KNOWLEDGE_FILE
        if not path.is_file():
            return cls()
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"Unsupported knowledge base format in {path.name}; retrain")
        return cls([Passage(**p) for p in data.get("passages") or []])
