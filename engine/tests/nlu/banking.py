"""A small, realistic banking data set for the NLU tests.

Annotations use a compact inline syntax: ``[text](entity)``, ``[text](entity#role)``,
``[text](entity#role@group)`` and ``[text](entity=value)`` (explicit value, i.e. a synonym).
"""

from __future__ import annotations

import re

from engine.nlu.data import EntitySpan, NluTrainingData, TrainingExample

_ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+)\]\((?P<entity>[^)#@=]+)(?:#(?P<role>[^)@=]+))?"
    r"(?:@(?P<group>[^)=]+))?(?:=(?P<value>[^)]+))?\)"
)


def example(annotated: str, intent: str) -> TrainingExample:
    text_parts: list[str] = []
    spans: list[EntitySpan] = []
    pos = 0
    length = 0
    for m in _ANNOTATION.finditer(annotated):
        before = annotated[pos : m.start()]
        text_parts.append(before)
        length += len(before)
        start = length
        text_parts.append(m.group("text"))
        length += len(m.group("text"))
        spans.append(
            EntitySpan(
                start=start,
                end=length,
                entity=m.group("entity"),
                value=m.group("value") or m.group("text"),
                role=m.group("role"),
                group=m.group("group"),
            )
        )
        pos = m.end()
    text_parts.append(annotated[pos:])
    return TrainingExample(text="".join(text_parts), intent=intent, entities=tuple(spans))


RAW: dict[str, list[str]] = {
    "greet": [
        "hello",
        "hi there",
        "hey",
        "good morning",
        "good evening",
        "hello, is anyone there?",
        "hi bot",
        "hey, good afternoon",
    ],
    "goodbye": [
        "bye",
        "goodbye",
        "see you later",
        "talk to you soon",
        "that's all, bye",
        "catch you later",
        "have a nice day, bye",
        "ciao",
    ],
    "affirm": [
        "yes",
        "yes please",
        "sure",
        "correct",
        "that's right",
        "yep, go ahead",
        "absolutely",
        "ok, do it",
    ],
    "deny": [
        "no",
        "no thanks",
        "nope",
        "not really",
        "don't do that",
        "no, cancel it",
        "never",
        "absolutely not",
    ],
    "thank_you": [
        "thanks",
        "thank you",
        "thanks a lot",
        "many thanks for your help",
        "thank you so much",
        "cheers, that helped",
        "great, thanks",
        "much appreciated",
    ],
    "check_balance": [
        "what is my balance",
        "how much money do I have",
        "show me my [savings](account) balance",
        "what's the balance of my [checking](account)",
        "how much is on my [credit card](account=credit)",
        "check my account balance",
        "tell me how much money is in my [savings](account)",
        "balance please",
        "how much do I have left in [checking](account)",
        "what is the current balance",
    ],
    "transfer_money": [
        "transfer [50](amount) dollars from [savings](account#source) to "
        "[checking](account#target)",
        "move [200](amount) from my [checking](account#source) to my [savings](account#target)",
        "send [100](amount) to [John](person)",
        "I want to send money to [Maria](person)",
        "transfer money from [savings](account#source) to [checking](account#target)",
        "pay [Anna](person) [30](amount) euros",
        "wire [1000](amount) to [Peter](person) from my [checking](account#source)",
        "can you move [75](amount) into my [savings](account#target)",
        "put [20](amount) from [checking](account#source) into [savings](account#target)",
        "send [15](amount) to [Lucas](person) please",
        "transfer [500](amount) to my [business](account#target) account",
        "move money out of my [business](account#source) account into [checking](account#target)",
    ],
    "pay_bill": [
        "I need to pay my [electricity](bill) bill",
        "pay the [water](bill) bill",
        "settle my [phone](bill) bill",
        "pay my [internet](bill) bill please",
        "I want to pay a bill",
        "can I pay my [gas](bill) bill now",
        "pay the [rent](bill)",
        "bill payment",
    ],
    "block_card": [
        "block my card",
        "I lost my [debit card](card)",
        "my [credit card](card) was stolen, block it",
        "freeze my [debit card](card)",
        "please block my [visa](card=credit card) card",
        "I can't find my card, lock it",
        "deactivate my [credit card](card)",
        "someone stole my wallet, block my cards",
    ],
    "report_fraud": [
        "there is a transaction I don't recognise",
        "I see a charge I didn't make",
        "someone used my account without permission",
        "report fraud",
        "I think my account was hacked",
        "there are suspicious payments on my statement",
        "an unknown payment appeared on my account",
        "I want to report an unauthorized transaction",
    ],
    "open_account": [
        "I want to open a new account",
        "open a [savings](account) account",
        "how do I open a [checking](account) account",
        "I'd like to create a [business](account) account",
        "sign me up for a new account",
        "can I open a joint account",
        "start a new [savings](account) account for me",
        "register a new bank account",
    ],
    "exchange_rate": [
        "what is the exchange rate for [euro](currency)",
        "how many [yen](currency) for a [us dollar](currency)",
        "convert [british pound](currency) to [euro](currency)",
        "what's the [swiss franc](currency) rate today",
        "exchange rate please",
        "how much is one [euro](currency) in [us dollar](currency)",
        "currency conversion rates",
        "give me the rate from [yen](currency) to [british pound](currency)",
    ],
    "branch_hours": [
        "when is the branch open",
        "what are your opening hours",
        "is the [Berlin](city) branch open on saturday",
        "opening times of the branch in [Paris](city)",
        "when does the bank close today",
        "what time do you open tomorrow",
        "are you open on sundays",
        "hours of the [London](city) office",
    ],
    "set_iban": [
        "my iban is [DE89370400440532013000](iban)",
        "send it to [GB29NWBK60161331926819](iban)",
        "use the account [FR1420041010050500013M02606](iban)",
        "the iban is [NL91ABNA0417164300](iban) please",
        "add a payee with iban [ES9121000418450200051332](iban)",
        "here is my iban",
    ],
}


def banking_data() -> NluTrainingData:
    examples = [example(text, intent) for intent, texts in RAW.items() for text in texts]
    return NluTrainingData(
        examples=examples,
        synonyms={
            "savings": ["savings account", "saving account", "saving"],
            "checking": ["checking account", "current account"],
        },
        regexes={
            "iban": [r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}"],
            "zipcode": [r"\d{5}"],  # not an entity: only a CRF feature
        },
        lookups={
            "currency": ["euro", "us dollar", "british pound", "yen", "swiss franc", "rupee"],
            "city": ["Berlin", "Paris", "London", "New York", "Rio de Janeiro", "Tokyo"],
        },
    )
