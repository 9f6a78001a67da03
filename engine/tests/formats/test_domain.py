from hypothesis import given, settings
from hypothesis import strategies as st

from engine.formats.domain import Action, Domain, Entity, Intent, domain_to_dict, parse_domain
from engine.formats.errors import ProblemCollector
from engine.formats.responses import Button, Response, ResponseVariation
from engine.formats.slots import MappingCondition, Rejection, Slot, SlotMapping, SlotValidation
from engine.formats.yamlio import dump_yaml, load_yaml

name = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
names = st.lists(name, min_size=1, max_size=3, unique=True)
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
    min_size=1,
    max_size=30,
).filter(str.strip)
scalar = st.one_of(text, st.booleans(), st.integers(-1000, 1000), st.floats(-1e6, 1e6))
condition = st.sampled_from(["slots.a > 1", 'slots.tier = "gold"', "not slots.ok"])

intents = st.builds(
    Intent,
    name=name,
    use_entities=st.one_of(st.none(), st.booleans(), st.lists(name, max_size=2)),
    ignore_entities=st.one_of(st.none(), st.lists(name, max_size=2)),
)
entities = st.builds(
    Entity,
    name=name,
    roles=st.one_of(st.none(), names),
    groups=st.one_of(st.none(), names),
    influence_conversation=st.one_of(st.none(), st.booleans()),
)
mapping_conditions = st.builds(
    MappingCondition,
    active_loop=st.one_of(st.none(), st.just("null"), name),
    requested_slot=st.one_of(st.none(), name),
)
mappings = st.one_of(
    st.builds(
        SlotMapping,
        type=st.just("from_entity"),
        entity=name,
        role=st.one_of(st.none(), name),
        group=st.one_of(st.none(), name),
        intent=st.one_of(st.none(), name, names),
        not_intent=st.one_of(st.none(), names),
        conditions=st.one_of(st.none(), st.lists(mapping_conditions, min_size=1, max_size=2)),
    ),
    st.builds(SlotMapping, type=st.just("from_intent"), intent=name, value=scalar),
    st.builds(SlotMapping, type=st.just("from_trigger_intent"), intent=name, value=scalar),
    st.builds(SlotMapping, type=st.just("from_text"), not_intent=st.one_of(st.none(), name)),
    st.builds(SlotMapping, type=st.just("from_llm")),
    st.builds(
        SlotMapping, type=st.just("controlled"), run_action_every_turn=st.one_of(st.none(), name)
    ),
)


@st.composite
def slots(draw):
    slot_type = draw(st.sampled_from(["text", "bool", "categorical", "float", "list", "any"]))
    slot = Slot(
        name=draw(name),
        type=slot_type,
        mappings=draw(st.one_of(st.none(), st.lists(mappings, max_size=3))),
        influence_conversation=draw(st.one_of(st.none(), st.booleans())),
    )
    if slot_type == "categorical":
        slot.values = draw(names)
        slot.initial_value = draw(st.one_of(st.none(), st.sampled_from(slot.values)))
    elif slot_type == "float":
        slot.min_value = draw(st.one_of(st.none(), st.floats(-100, 0)))
        slot.max_value = draw(st.one_of(st.none(), st.floats(1, 100)))
        slot.initial_value = draw(st.one_of(st.none(), st.floats(0, 1)))
    elif slot_type == "bool":
        slot.initial_value = draw(st.one_of(st.none(), st.booleans()))
    elif slot_type == "list":
        slot.initial_value = draw(st.one_of(st.none(), st.lists(text, max_size=2)))
    if draw(st.booleans()):
        slot.validation = SlotValidation(
            rejections=draw(
                st.lists(st.builds(Rejection, condition, name.map("utter_{}".format)), max_size=2)
            ),
            refill_utter=draw(st.one_of(st.none(), name.map("utter_{}".format))),
        )
    return slot


variations = st.builds(
    ResponseVariation,
    text=text,
    buttons=st.one_of(
        st.none(),
        st.lists(st.builds(Button, text, st.one_of(st.none(), name.map("/{}".format))), max_size=2),
    ),
    image=st.one_of(st.none(), st.just("https://example.com/a.png")),
    custom=st.one_of(st.none(), st.just({"blocks": [{"type": "divider"}]})),
    channel=st.one_of(st.none(), st.sampled_from(["slack", "socketio"])),
    condition=st.one_of(
        st.none(),
        condition,
        st.lists(
            st.fixed_dictionaries({"type": st.just("slot"), "name": name, "value": scalar}),
            min_size=1,
            max_size=2,
        ),
    ),
    metadata=st.one_of(
        st.none(), st.just({"rephrase": True}), st.just({"rephrase": False, "template": "x"})
    ),
    id=st.one_of(st.none(), name),
    translation=st.one_of(
        st.none(), st.dictionaries(st.sampled_from(["de", "fr"]), text, min_size=1)
    ),
)
responses = st.builds(
    Response,
    name=name.map("utter_{}".format),
    variations=st.lists(variations, min_size=1, max_size=3),
)
actions = st.builds(
    Action, name=name.map("action_{}".format), send_domain=st.one_of(st.none(), st.booleans())
)

domains = st.builds(
    Domain,
    version=st.one_of(st.none(), st.just("3.1")),
    intents=st.lists(intents, max_size=4, unique_by=lambda i: i.name),
    entities=st.lists(entities, max_size=3, unique_by=lambda e: e.name),
    slots=st.lists(slots(), max_size=4, unique_by=lambda s: s.name),
    responses=st.lists(responses, max_size=4, unique_by=lambda r: r.name),
    actions=st.lists(actions, max_size=3, unique_by=lambda a: a.name),
    forms=st.one_of(st.none(), st.just({"booking_form": {"required_slots": ["city"]}})),
    session_config=st.one_of(
        st.none(), st.just({"session_expiration_time": 60, "carry_over_slots_to_new_session": True})
    ),
)


def _reparse(domain):
    text = dump_yaml(domain_to_dict(domain))
    doc = load_yaml(text, "domain.yml")
    collector = ProblemCollector("domain.yml", doc.lines)
    parsed = parse_domain(doc.data, collector)
    return parsed, collector.problems, text


@settings(max_examples=200, deadline=None)
@given(domains)
def test_it_round_trips_generated_domains(domain):
    parsed, problems, text = _reparse(domain)
    assert [p for p in problems if p.severity == "error"] == [], text
    assert parsed == domain


def test_it_dumps_deterministically():
    domain = Domain(
        version="3.1",
        intents=[Intent("greet"), Intent("inform", use_entities=["city"])],
        slots=[Slot("city", "text", mappings=[SlotMapping("from_entity", entity="city")])],
        responses=[Response("utter_greet", [ResponseVariation(text="yes")])],
    )
    assert dump_yaml(domain_to_dict(domain)) == dump_yaml(domain_to_dict(domain))
    assert dump_yaml(domain_to_dict(domain)) == (
        'version: "3.1"\n'
        "intents:\n"
        "  - greet\n"
        "  - inform:\n"
        "      use_entities:\n"
        "        - city\n"
        "slots:\n"
        "  city:\n"
        "    type: text\n"
        "    mappings:\n"
        "      - type: from_entity\n"
        "        entity: city\n"
        "responses:\n"
        "  utter_greet:\n"
        '    - text: "yes"\n'
    )


def test_it_keeps_the_line_of_each_item():
    text = 'version: "3.1"\nintents:\n  - greet\n  - bye\nslots:\n  city:\n    type: text\n'
    doc = load_yaml(text, "domain.yml")
    domain = parse_domain(doc.data, ProblemCollector("domain.yml", doc.lines))
    assert [i.source_line for i in domain.intents] == [3, 4]
    assert domain.slots[0].source_line == 6
    assert domain.slots[0].source_file == "domain.yml"
