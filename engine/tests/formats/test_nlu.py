import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.formats.errors import ProblemCollector
from engine.formats.nlu import (
    AnnotationError,
    EntityAnnotation,
    Example,
    IntentExamples,
    Lookup,
    NluData,
    Regex,
    Synonym,
    example_to_text,
    nlu_to_list,
    parse_example,
    parse_nlu,
)
from engine.formats.yamlio import dump_yaml, load_yaml


@pytest.mark.parametrize(
    ("annotated", "text", "entities"),
    [
        ("fly to [Berlin](city)", "fly to Berlin", [EntityAnnotation(7, 13, "Berlin", "city")]),
        (
            "from [NYC](city:New York) please",
            "from NYC please",
            [EntityAnnotation(5, 8, "New York", "city")],
        ),
        (
            'from [Berlin]{"entity": "city", "role": "departure"} to [Paris]{"entity": "city", "role": "destination", "group": "1"}',
            "from Berlin to Paris",
            [
                EntityAnnotation(5, 11, "Berlin", "city", role="departure"),
                EntityAnnotation(15, 20, "Paris", "city", role="destination", group="1"),
            ],
        ),
        (
            '[Apple][{"entity": "fruit"}, {"entity": "company", "value": "apple inc"}] rocks',
            "Apple rocks",
            [
                EntityAnnotation(0, 5, "Apple", "fruit"),
                EntityAnnotation(0, 5, "apple inc", "company"),
            ],
        ),
        ("no entities here", "no entities here", []),
    ],
)
def test_it_parses_annotations(annotated, text, entities):
    example = parse_example(annotated)
    assert example.text == text
    assert example.entities == entities
    assert parse_example(example_to_text(example)) == example


def test_it_writes_the_shortest_faithful_form():
    example = parse_example('[NYC](city:New York) and [Rome]{"entity": "city", "value": "Rome"}')
    assert (
        example_to_text(example) == '[NYC]{"entity": "city", "value": "New York"} and [Rome](city)'
    )


@pytest.mark.parametrize(
    "annotated",
    ['[x]{"entity": }', '[x]{"role": "r"}', '[x]{"entity": "a", "colour": "red"}', "[x][1, 2]"],
)
def test_it_rejects_bad_annotations(annotated):
    with pytest.raises(AnnotationError):
        parse_example(annotated)


word = st.text(
    alphabet=st.characters(
        whitelist_categories=("Lu", "Ll", "Nd"),
        whitelist_characters=" ,.?!'#:-é",
        max_codepoint=0x2FF,
    ),
    min_size=1,
    max_size=12,
)
entity_name = st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True)
value = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ]{0,8}", fullmatch=True)


@st.composite
def examples(draw):
    parts = draw(st.lists(st.tuples(word, st.booleans()), min_size=1, max_size=4))
    text = ""
    entities = []
    for chunk, annotate in parts:
        chunk = chunk.strip() or "x"
        if text:
            text += " "
        start = len(text)
        text += chunk
        if annotate:
            for _ in range(draw(st.integers(1, 2))):
                entities.append(
                    EntityAnnotation(
                        start,
                        len(text),
                        draw(st.one_of(st.just(chunk), value)),
                        draw(entity_name),
                        draw(st.one_of(st.none(), entity_name)),
                        draw(st.one_of(st.none(), entity_name)),
                    )
                )
    metadata = draw(st.one_of(st.none(), st.just({"sentiment": "neutral"})))
    return Example(text=text, entities=entities, metadata=metadata)


plain = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ]{0,10}[A-Za-z0-9]", fullmatch=True)
nlu_data = st.builds(
    NluData,
    intents=st.lists(
        st.builds(
            IntentExamples,
            intent=entity_name,
            examples=st.lists(examples(), max_size=4),
            metadata=st.one_of(st.none(), st.just({"author": "me"})),
        ),
        max_size=3,
    ),
    synonyms=st.lists(
        st.builds(Synonym, name=plain, examples=st.lists(plain, min_size=1, max_size=3)), max_size=2
    ),
    regexes=st.lists(
        st.builds(Regex, name=entity_name, examples=st.lists(plain, min_size=1, max_size=2)),
        max_size=2,
    ),
    lookups=st.lists(
        st.builds(Lookup, name=entity_name, examples=st.lists(plain, min_size=1, max_size=3)),
        max_size=2,
    ),
)


@settings(max_examples=200, deadline=None)
@given(nlu_data)
def test_it_round_trips_generated_nlu_data(nlu):
    text = dump_yaml({"version": "3.1", "nlu": nlu_to_list(nlu)})
    doc = load_yaml(text, "data/nlu.yml")
    collector = ProblemCollector("data/nlu.yml", doc.lines)
    parsed = parse_nlu(doc.data["nlu"], collector)
    assert collector.problems == [], text
    for block in parsed.intents + nlu.intents:
        for example in block.examples:
            example.entities.sort(key=lambda e: (e.start, e.end))
    assert parsed == nlu


def test_it_writes_examples_as_a_block():
    nlu = NluData(
        intents=[IntentExamples("greet", [parse_example("hi"), parse_example("hello [Ann](name)")])]
    )
    assert dump_yaml({"nlu": nlu_to_list(nlu)}) == (
        "nlu:\n  - intent: greet\n    examples: |\n      - hi\n      - hello [Ann](name)\n"
    )
