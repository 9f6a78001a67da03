"""The knowledge base of enterprise search: passages, BM25 ranking, persistence, training."""

from __future__ import annotations

import textwrap

import pytest

from engine.archive import load_model
from engine.dialogue import DialogueModel
from engine.dialogue.search import (
    MAX_PASSAGE_CHARS,
    KnowledgeBase,
    Passage,
    search_prompt,
    split_passages,
    tokens,
)
from engine.formats import load_project_files
from engine.train import project_fingerprint, train_project

FAQ = """# Cards

Everything about your cards.

## Block a card
If your card is lost, block it in the app under Cards > Block.

## Card limits
Daily limits are 1000 for payments and 500 for cash.

### Raising limits
Ask in a branch to raise your limits.
"""

TELCO = "Restart your router by unplugging it for 30 seconds.\n\nA reset deletes all settings."


def test_markdown_is_split_at_headings():
    passages = split_passages("docs/faq.md", FAQ)
    assert [p.title for p in passages] == ["Cards", "Block a card", "Card limits", "Raising limits"]
    assert passages[1].text == "If your card is lost, block it in the app under Cards > Block."
    assert all(p.source == "docs/faq.md" for p in passages)


def test_plain_text_keeps_hashes_and_long_sections_split_between_paragraphs():
    assert split_passages("docs/a.txt", "# not a heading\nbody")[0].text == "# not a heading\nbody"
    paragraph = "word " * 100
    text = "\n\n".join([paragraph.strip()] * 6)
    passages = split_passages("docs/long.txt", text)
    assert len(passages) > 1
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)


def test_tokens_drop_stopwords_and_plural_s():
    assert tokens("How do I raise my Limits?") == ["raise", "limit"]


def test_search_ranks_the_matching_passage_first():
    kb = KnowledgeBase.build({"docs/faq.md": FAQ, "docs/telco.txt": TELCO})
    results = kb.search("my card is lost, how do I block it?")
    assert results[0].passage.title == "Block a card"
    assert results[0].score > 0
    assert kb.search("router restart")[0].passage.source == "docs/telco.txt"
    assert kb.search("pizza") == []
    assert kb.search("the and of") == []


def test_answer_is_the_best_passage_or_the_llms_answer():
    kb = KnowledgeBase.build({"docs/faq.md": FAQ})
    text, results = kb.answer("what are the daily limits") or ("", [])
    assert text == "Daily limits are 1000 for payments and 500 for cash."
    assert len(results) == 1
    seen = []
    answer = kb.answer("daily limits", lambda prompt: seen.append(prompt) or "1000 a day")
    assert answer is not None and answer[0] == "1000 a day"
    assert "Daily limits are 1000" in seen[0]
    assert kb.answer("daily limits", lambda prompt: "   ") is None
    assert kb.answer("nothing relevant here, zebra") is None


def test_search_prompt_numbers_the_passages_with_their_source():
    prompt = search_prompt("q?", [Passage("docs/a.md", "T", "body")])
    assert "[1] docs/a.md - T\nbody" in prompt
    assert prompt.endswith("Question: q?\nAnswer:")


def test_files_that_are_not_text_are_left_out(caplog):
    with caplog.at_level("INFO"):
        kb = KnowledgeBase.build({"docs/manual.pdf": b"%PDF-1.4", "docs/a.md": "# A\ntext"})
    assert [p.source for p in kb.passages] == ["docs/a.md"]
    assert "docs/manual.pdf left out" in caplog.text


def project(extra: dict[str, str | bytes], config: str | None = None):
    files: dict[str, str | bytes] = {
        "domain.yml": 'version: "3.1"\nresponses:\n  utter_hi: [{text: hi}]\n',
        "data/flows.yml": "flows:\n  hi:\n    description: say hi\n    steps:\n"
        "      - action: utter_hi\n",
        **extra,
    }
    if config is not None:
        files["config.yml"] = config
    return load_project_files(files)


def test_the_model_holds_the_docs_folder_and_the_vector_store_source(tmp_path):
    config = textwrap.dedent(
        """
        recipe: default.v1
        language: en
        policies:
          - name: FlowPolicy
          - name: EnterpriseSearchPolicy
            vector_store: {type: faiss, source: ./knowledge}
        """
    )
    model = DialogueModel.build(project({"docs/faq.md": FAQ, "knowledge/telco.txt": TELCO}, config))
    assert {p.source for p in model.knowledge.passages} == {"docs/faq.md", "knowledge/telco.txt"}
    assert "EnterpriseSearchPolicy" in model.policies
    model.persist(tmp_path)
    loaded = DialogueModel.load(tmp_path)
    assert loaded.knowledge.passages == model.knowledge.passages
    assert loaded.policies == ["FlowPolicy", "EnterpriseSearchPolicy"]
    assert loaded.knowledge.search("router")[0].passage.source == "knowledge/telco.txt"


def test_a_model_without_a_knowledge_file_has_an_empty_knowledge_base(tmp_path):
    DialogueModel.build(project({})).persist(tmp_path)
    (tmp_path / "knowledge.json").unlink()
    assert not DialogueModel.load(tmp_path).knowledge


def test_an_unknown_knowledge_format_asks_for_retraining(tmp_path):
    DialogueModel.build(project({})).persist(tmp_path)
    (tmp_path / "knowledge.json").write_text('{"format_version": 99}')
    with pytest.raises(ValueError, match="retrain"):
        DialogueModel.load(tmp_path)


def test_training_builds_the_knowledge_base_into_the_archive(tmp_path):
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "config.yml").write_text("recipe: default.v1\nlanguage: en\nassistant_id: kb\n")
    (root / "domain.yml").write_text('version: "3.1"\nresponses:\n  utter_hi: [{text: hi}]\n')
    (root / "data/flows.yml").write_text(
        "flows:\n  hi:\n    description: say hi\n    steps:\n      - action: utter_hi\n"
    )
    (root / "docs/faq.md").write_text(FAQ)
    result = train_project(root, tmp_path / "models", fixed_model_name="kb")
    loaded = load_model(result.path)
    assert loaded.dialogue_model.knowledge.search("block card")[0].passage.title == "Block a card"


def test_the_knowledge_documents_are_part_of_the_fingerprint():
    base = project({})
    assert project_fingerprint(project({"docs/faq.md": FAQ})) != project_fingerprint(base)
    assert project_fingerprint(project({"docs/faq.md": FAQ + "x"})) != project_fingerprint(
        project({"docs/faq.md": FAQ})
    )


def test_a_text_files_first_short_line_is_the_title_and_faq_entries_answer_with_the_answer():
    text = (
        "Secure Payments\n\nQ: How are card payments protected?\nA: With 3D Secure.\n\n"
        "Q: Can I pay by phone?\nA: Yes, with the app."
    )
    passages = split_passages("docs/pay.txt", text)
    assert [p.title for p in passages] == ["Secure Payments", "Secure Payments"]
    kb = KnowledgeBase(passages)
    assert (kb.answer("can I pay with my phone") or ("",))[0] == "Yes, with the app."


def test_a_very_long_line_is_cut_between_words():
    passages = split_passages("docs/one.txt", "word " * 1000)
    assert len(passages) > 3
    assert all(0 < len(p.text) <= MAX_PASSAGE_CHARS for p in passages)


def test_one_shared_word_does_not_make_a_passage_relevant():
    kb = KnowledgeBase.build({"docs/faq.md": FAQ, "docs/telco.txt": TELCO})
    assert kb.search("block my card")[0].passage.title == "Block a card"
    assert kb.search("block the neighbours wifi channel interference") == []
