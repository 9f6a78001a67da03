"""Map the NLU data of a project (`engine.formats.NluData`) onto `engine.nlu` training data."""

from __future__ import annotations

from engine.formats import NluData
from engine.nlu import EntitySpan, NluModel, NluTrainingData, TrainingExample

__all__ = ["to_training_data", "train_nlu"]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def to_training_data(nlu: NluData) -> NluTrainingData:
    data = NluTrainingData()
    for block in nlu.intents:
        for example in block.examples:
            spans = tuple(
                EntitySpan(
                    start=ann.start,
                    end=ann.end,
                    entity=ann.entity,
                    value=_text(ann.value),
                    role=ann.role,
                    group=ann.group,
                )
                for ann in example.entities
            )
            data.examples.append(TrainingExample(example.text, block.intent, spans))
    for synonym in nlu.synonyms:
        data.synonyms.setdefault(synonym.name, []).extend(synonym.examples)
    for regex in nlu.regexes:
        data.regexes.setdefault(regex.name, []).extend(regex.examples)
    for lookup in nlu.lookups:
        data.lookups.setdefault(lookup.name, []).extend(lookup.examples)
    return data


def train_nlu(nlu: NluData, *, language: str = "en") -> NluModel:
    return NluModel.train(to_training_data(nlu), language=language)
