"""The CRF's token features: every token's own features, its neighbours' at -2..+2 in a fixed
order, and pattern matches at -1..+1 (the trained model depends on the exact strings)."""

from engine.nlu.crf import token_features
from engine.nlu.patterns import PatternMatch
from engine.nlu.tokenizer import tokenize


def test_features_of_each_token_and_its_neighbours() -> None:
    text = "Send 50 to Anna"
    tokens = tokenize(text)
    match = PatternMatch(start=5, end=7, name="amount", kind="regex", is_entity=True)
    features = token_features(tokens, [match])
    own = {
        "send": ["w=send", "p2=se", "p3=sen", "s2=nd", "s3=end", "sh=Xx", "title"],
        "50": ["w=50", "p2=50", "p3=50", "s2=50", "s3=50", "sh=d", "digit"],
        "to": ["w=to", "p2=to", "p3=to", "s2=to", "s3=to", "sh=x"],
        "anna": ["w=anna", "p2=an", "p3=ann", "s2=na", "s3=nna", "sh=Xx", "title"],
    }
    assert features == [
        ["bias", *own["send"], "BOS", "1w=50", "1sh=d", "1pat=regex:amount", "2w=to"],
        ["bias", *own["50"], "pat=regex:amount", "-1w=send", "-1sh=Xx", "1w=to", "1sh=x",
         "2w=anna"],
        ["bias", *own["to"], "-2w=send", "-1w=50", "-1sh=d", "-1pat=regex:amount",
         "1w=anna", "1sh=Xx"],
        ["bias", *own["anna"], "EOS", "-2w=50", "-1w=to", "-1sh=x"],
    ]  # fmt: skip


def test_a_single_token_is_both_ends() -> None:
    assert token_features(tokenize("hi")) == [
        ["bias", "w=hi", "p2=hi", "p3=hi", "s2=hi", "s3=hi", "sh=x", "BOS", "EOS"]
    ]


def test_same_word_in_other_sentences_gets_the_same_neighbour_features() -> None:
    first = token_features(tokenize("pay bob now"))
    second = token_features(tokenize("bob pay"))
    assert "-1w=pay" in first[1] and "1w=pay" in second[0]
    assert "1w=bob" in first[0] and "-1w=bob" in second[1]
