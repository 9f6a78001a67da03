"""The contextual response rephraser (endpoints.yml ``nlg: {type: rephrase}``).

A text response whose variation says ``metadata: {rephrase: true}`` (or every text response,
with ``rephrase_all: true``) is sent through the LLM with the conversation so far, and the
LLM's text replaces the template's. Settings of the ``nlg`` section, as Rasa reads them:
``llm``, ``prompt_template`` (a project file; ``prompt`` is the older name),
``rephrase_all`` (false), ``max_historical_turns`` (5); a response's own
``metadata.rephrase_prompt`` overrides the template. The template gets ``history``,
``current_input`` (``USER: ...``), ``suggested_response``, ``slots`` and ``language``.

Where Rasa summarises the history with a second LLM call (``summarize_history``), this
rephraser gives the last turns' transcript instead: one call per response. When the LLM fails
or answers nothing, the template's text is sent unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.dialogue.tracker import Tracker
from engine.llm.client import LlmClient, LlmError
from engine.llm.prompt import PromptError, PromptTemplate

__all__ = ["DEFAULT_REPHRASE_TEMPLATE", "Rephraser"]

logger = logging.getLogger(__name__)

DEFAULT_REPHRASE_TEMPLATE = """\
You are the voice of a helpful, friendly assistant. Say the suggested response again in your \
own words, in simple {{ language }}, keeping its meaning and every fact in it. Answer with the \
new response only.

Conversation so far:
{{ history }}

{{ current_input }}

Suggested response: {{ suggested_response }}

Your response:"""

_LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian"}


class Rephraser:
    def __init__(
        self,
        client: LlmClient,
        *,
        template: str | None = None,
        template_source: str = "the rephraser's prompt template",
        rephrase_all: bool = False,
        max_historical_turns: int = 5,
        language: str = "en",
    ) -> None:
        self.client = client
        self.template = PromptTemplate(template or DEFAULT_REPHRASE_TEMPLATE, template_source)
        self.rephrase_all = rephrase_all
        self.max_turns = max(1, max_historical_turns)
        self.language = _LANGUAGES.get(language, language)

    def wants(self, message: dict[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        return bool(message.get("text")) and (
            self.rephrase_all or metadata.get("rephrase") in (True, "true", "True")
        )

    def rephrase(self, message: dict[str, Any], tracker: Tracker) -> dict[str, Any]:
        """`message` with its text rephrased (unchanged when not wanted or on failure)."""
        if not self.wants(message):
            return message
        metadata = message.get("metadata") or {}
        template = self.template
        own = metadata.get("rephrase_prompt")
        if isinstance(own, str) and own.strip():
            try:
                template = PromptTemplate(own, "the response's rephrase_prompt")
            except PromptError as exc:
                logger.warning("%s", exc)
        latest = str(tracker.latest_message.get("text") or "")
        try:
            prompt = template.render(
                "v2",
                history=self.history(tracker),
                current_input=f"USER: {latest}" if latest else "",
                suggested_response=message["text"],
                slots=dict(tracker.slots),
                language=self.language,
            )
            response = self.client.complete(prompt)
        except (LlmError, PromptError) as exc:
            logger.warning("the response was not rephrased: %s", exc)
            return message
        text = response.text.strip().strip('"').strip()
        if not text:
            return message
        return {
            **message,
            "text": text,
            "metadata": {**metadata, "rephrased": True, "template_text": message["text"]},
        }

    def history(self, tracker: Tracker) -> str:
        lines: list[str] = []
        turns = 0
        previous = None
        for event in reversed(tracker.events):
            kind = event.get("event")
            if kind in ("session_started", "restart"):
                break
            if kind not in ("user", "bot") or not event.get("text"):
                continue
            if kind != previous:
                turns += 1
                if turns > self.max_turns * 2:
                    break
            previous = kind
            prefix = "USER" if kind == "user" else "AI"
            lines.append(f"{prefix}: {' '.join(str(event['text']).split())}")
        return "\n".join(reversed(lines))
