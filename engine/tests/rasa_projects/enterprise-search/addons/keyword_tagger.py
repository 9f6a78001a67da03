"""A pipeline component that marks messages naming a library service (loan, renew, fine)."""

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class KeywordTagger(GraphComponent):
    def __init__(self, config: dict[str, Any]) -> None:
        self.keywords = [k.lower() for k in config.get("keywords", [])]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "KeywordTagger":
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = (message.get("text") or "").lower()
            message.set("library_keywords", [k for k in self.keywords if k in text])
        return messages
