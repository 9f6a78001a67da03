"""NLU of the built-in engine: intent classification and entity extraction.

Plain data in (:mod:`engine.nlu.data`), Rasa's ``/model/parse`` dictionary out
(:meth:`NluModel.parse`).
"""

from engine.nlu.classifier import TextClassifier
from engine.nlu.commands import parse_payload
from engine.nlu.data import EntitySpan, NluTrainingData, TrainingExample, fingerprint
from engine.nlu.model import NluModel
from engine.nlu.tokenizer import Token, tokenize

__all__ = [
    "EntitySpan",
    "NluModel",
    "NluTrainingData",
    "TextClassifier",
    "Token",
    "TrainingExample",
    "fingerprint",
    "parse_payload",
    "tokenize",
]
