"""The LLM parts of the built-in engine: a client for the LLMs endpoints.yml's ``model_groups``
name (`config`, `client`), the LLM command generators (`generator`, with the prompt of
`prompt` and the command DSL of `dsl`), the contextual response rephraser (`rephraser`), and
what a model stores for them and a bot builds from them (`setup`)."""

from engine.llm.client import LlmClient, LlmError, LlmResponse
from engine.llm.config import LlmConfigError, ModelSettings, model_settings, resolve_llm
from engine.llm.dsl import ParseResult, gbnf_grammar, parse_commands
from engine.llm.generator import GENERATOR_SYNTAX, LlmCommandGenerator, RetrievalSettings
from engine.llm.prompt import PromptError
from engine.llm.rephraser import Rephraser
from engine.llm.setup import LLM_COMPONENT, LlmComponent, LlmSetup, build_llm_setup

__all__ = [
    "GENERATOR_SYNTAX",
    "LLM_COMPONENT",
    "LlmClient",
    "LlmCommandGenerator",
    "LlmComponent",
    "LlmConfigError",
    "LlmError",
    "LlmResponse",
    "LlmSetup",
    "ModelSettings",
    "ParseResult",
    "PromptError",
    "Rephraser",
    "RetrievalSettings",
    "build_llm_setup",
    "gbnf_grammar",
    "model_settings",
    "parse_commands",
    "resolve_llm",
]
