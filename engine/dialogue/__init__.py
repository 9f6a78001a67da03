"""The built-in engine's dialogue: Rasa Pro's flow semantics (CALM without an LLM).

Typical use::

    from engine.dialogue import DialogueModel, FlowClassifier, Processor, Tracker, UserMessage

    model = DialogueModel.build(project)
    processor = Processor(model, nlu_model, FlowClassifier.train(project.flows, project.nlu))
    tracker = Tracker("alice", model.initial_slots())
    messages = processor.handle_message(tracker, UserMessage("hi", "alice"))
    tracker.to_dict()  # Rasa's tracker JSON, events included
"""

from engine.dialogue.action_client import ActionClient, ActionError, ActionResult, NullActionClient
from engine.dialogue.flow_classifier import FlowClassifier
from engine.dialogue.model import DEFAULT_SETTINGS, DialogueModel
from engine.dialogue.nlu_adapter import to_training_data, train_nlu
from engine.dialogue.processor import Processor, UserMessage
from engine.dialogue.tracker import Tracker

__all__ = [
    "DEFAULT_SETTINGS",
    "ActionClient",
    "ActionError",
    "ActionResult",
    "DialogueModel",
    "FlowClassifier",
    "NullActionClient",
    "Processor",
    "Tracker",
    "UserMessage",
    "to_training_data",
    "train_nlu",
]
