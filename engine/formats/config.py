"""``config.yml`` and ``endpoints.yml``: kept as text (comments and all), parsed for reading.

Studio stores these two files verbatim and writes them back unchanged; the parsed values are
exposed for validation and for the parts of Studio that need them (``config.assistant_id`` to
route conversations, ``endpoints.event_broker`` for ingestion...).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from typing import Any, cast

from engine.formats._check import Checker, describe
from engine.formats.errors import FormatError, Problem, ProblemCollector, join_path
from engine.formats.languages import additional_languages_of, check_languages
from engine.formats.yamlio import load_yaml

CONFIG_KEYS = (
    "recipe",
    "language",
    "additional_languages",
    "assistant_id",
    "pipeline",
    "policies",
    "spaces",
    "core_target",
    "nlu_target",
    "train_schema",
    "predict_schema",
    # Data importers (``rasa.shared.importers``): Rasa reads them from config.yml too.
    "importers",
)
#: The top-level keys of endpoints.yml that Rasa Pro 3.21 reads (its ``AvailableEndpoints``,
#: tracing and metrics, the secrets manager, A2A server) and older keys Studio accepts.
ENDPOINT_KEYS = (
    "action_endpoint",
    "event_broker",
    "tracker_store",
    "lock_store",
    "timer_store",
    "nlg",
    "nlu",
    "model_groups",
    "models",
    "model",
    "vector_store",
    "silence_timeout",
    "interaction_handling",
    "mcp_servers",
    "a2a_server",
    "privacy",
    "recordings",
    "tracing",
    "metrics",
    "secrets_manager",
    "nlu_tracker_store",
)
#: The built-in engine's sentence-embedding featuriser (engine.nlu.pipeline reads its settings).
EMBEDDING_COMPONENT = "SentenceEmbeddingFeaturizer"
#: Pipeline components of the built-in engine that Rasa does not have: accepted with a warning.
STUDIO_PIPELINE_COMPONENTS = frozenset({EMBEDDING_COMPONENT})

#: The graph components Rasa Pro 3.x knows by name in config.yml's ``pipeline``. Any other
#: name is refused by Rasa, unless it is a dotted class path (``module.Class``): a custom
#: component, loaded from the assistant's own code.
PIPELINE_COMPONENTS = frozenset(
    {
        # tokenizers
        "WhitespaceTokenizer",
        "JiebaTokenizer",
        "MitieTokenizer",
        "SpacyTokenizer",
        # language models
        "MitieNLP",
        "SpacyNLP",
        # featurizers
        "CountVectorsFeaturizer",
        "LexicalSyntacticFeaturizer",
        "RegexFeaturizer",
        "ConveRTFeaturizer",
        "LanguageModelFeaturizer",
        "MitieFeaturizer",
        "SpacyFeaturizer",
        # intent classifiers
        "LogisticRegressionClassifier",
        "DIETClassifier",
        "SklearnIntentClassifier",
        "MitieIntentClassifier",
        "KeywordIntentClassifier",
        "FallbackClassifier",
        "LLMIntentClassifier",
        # entity extractors
        "CRFEntityExtractor",
        "RegexEntityExtractor",
        "EntitySynonymMapper",
        "DucklingEntityExtractor",
        "SpacyEntityExtractor",
        "MitieEntityExtractor",
        # response selection
        "ResponseSelector",
        # CALM: command generators and routers
        "NLUCommandAdapter",
        "CompactLLMCommandGenerator",
        "SearchReadyLLMCommandGenerator",
        "SingleStepLLMCommandGenerator",
        "MultiStepLLMCommandGenerator",
        "LLMCommandGenerator",
        "LLMBasedRouter",
        "IntentBasedRouter",
    }
)
#: The policies Rasa Pro 3.x knows by name in config.yml's ``policies``.
POLICIES = frozenset(
    {
        "FlowPolicy",
        "EnterpriseSearchPolicy",
        "IntentlessPolicy",
        "RulePolicy",
        "MemoizationPolicy",
        "AugmentedMemoizationPolicy",
        "TEDPolicy",
        "UnexpecTEDIntentPolicy",
    }
)
EVENT_BROKER_TYPES = ("kafka", "concurrent_kafka", "pika", "sql", "file")
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "GSSAPI", "OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-512")
_KAFKA_KEYS = (
    "type",
    "url",
    "topic",
    "client_id",
    "partition_by_sender",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_check_hostname",
    "queue_size",
    "group_id",
    "stream_pii",
    "anonymization_topics",
    "socket_keepalive_enable",
    "reconnect_backoff_ms",
    "reconnect_backoff_max_ms",
    "topic_metadata_refresh_interval_ms",
    "executor_max_workers",
    "sasl_oauth_token_provider",
    "aws_region",
)
_REQUIRED_BROKER_KEYS = {"kafka": ("url",), "concurrent_kafka": ("url",), "pika": ("url",)}


def _is_env(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


@dataclass
class _TextFile:
    text: str
    file: str = field(default="", compare=False)
    data: Any = field(default=None, compare=False, repr=False)
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str | bytes, file: str) -> Any:
        """Read the file (raises `FormatError` when it is not valid YAML). libyaml composes it
        where it can (`load_yaml`'s ``fast``: the same values, lines and errors, in a twentieth of
        the time): a training request and a training each read config.yml and endpoints.yml,
        on the path from an edit to its first reply (issue 20)."""
        doc = load_yaml(text, file, fast=True)
        if doc.data is not None and not isinstance(doc.data, dict):
            raise FormatError(
                [Problem(file, 1, "", f"{file} must hold a mapping, not {describe(doc.data)}")]
            )
        raw = text.decode("utf-8") if isinstance(text, bytes) else text
        return cls(text=raw.removeprefix("\ufeff"), file=file, data=doc.data or {}, lines=doc.lines)

    def get(self, key: str, default: Any = None) -> Any:
        return (self.data or {}).get(key, default)


@dataclass
class ConfigFile(_TextFile):
    """``config.yml``. Equality compares the text only.

    The properties return the parsed values typed as Rasa expects them; a value of another
    type is returned as it is (`check_config` reports it).
    """

    @property
    def recipe(self) -> str | None:
        return cast("str | None", self.get("recipe"))

    @property
    def language(self) -> str | None:
        return cast("str | None", self.get("language"))

    @property
    def additional_languages(self) -> list[str]:
        """``additional_languages`` (the codes that are strings; none when it is unset)."""
        return additional_languages_of(self.data)

    @property
    def assistant_id(self) -> str | None:
        value = self.get("assistant_id")
        return str(value) if value is not None else None

    @property
    def pipeline(self) -> list[dict[str, Any]]:
        value = self.get("pipeline")
        return value if isinstance(value, list) else []

    @property
    def policies(self) -> list[dict[str, Any]]:
        value = self.get("policies")
        return value if isinstance(value, list) else []

    def prompt_refs(self) -> list[tuple[str, str]]:
        """``(prompt file, key path)`` for each custom prompt named by a component or policy."""
        refs = []
        for section in ("pipeline", "policies"):
            for index, component in enumerate(getattr(self, section)):
                if not isinstance(component, dict):
                    continue
                base = join_path(section, index)
                for key in ("prompt_template", "prompt"):
                    value = component.get(key)
                    if isinstance(value, str) and not _is_env(value):
                        refs.append((value, join_path(base, key)))
                llm = component.get("llm")
                if isinstance(llm, dict) and isinstance(llm.get("prompt"), str):
                    refs.append((llm["prompt"], join_path(base, "llm", "prompt")))
        return refs

    def prompt_paths(self) -> list[str]:
        """Custom prompt template files named by pipeline components and policies."""
        return [path for path, _ in self.prompt_refs()]


@dataclass
class EndpointsFile(_TextFile):
    """``endpoints.yml``. Equality compares the text only.

    The properties return the parsed values typed as Rasa expects them; a value of another
    type is returned as it is (`check_endpoints` reports those it checks).
    """

    @property
    def action_endpoint(self) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self.get("action_endpoint"))

    @property
    def event_broker(self) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self.get("event_broker"))

    @property
    def tracker_store(self) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self.get("tracker_store"))

    @property
    def lock_store(self) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self.get("lock_store"))

    @property
    def nlg(self) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self.get("nlg"))

    @property
    def model_groups(self) -> list[Any] | None:
        return cast("list[Any] | None", self.get("model_groups"))

    def prompt_paths(self) -> list[str]:
        nlg = self.nlg
        if (
            isinstance(nlg, dict)
            and isinstance(nlg.get("prompt"), str)
            and not _is_env(nlg["prompt"])
        ):
            return [nlg["prompt"]]
        return []


# ---------------------------------------------------------------------------------------------
# Edits and raw reading (comments kept where the file is round-tripped)


@functools.lru_cache(maxsize=64)
def with_assistant_id(config_text: str, assistant_id: str) -> str:
    """config.yml with `assistant_id` set, comments kept (the text itself when it is already
    set): Studio sets it to the assistant's name, which routes the bot's events back.

    Remembered for the last texts: round-tripping the file with comments kept is about 10 ms
    of every training request (on the path from an edit to its first reply, issue 20), and
    config.yml seldom changes between two of them."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(config_text) if config_text.strip() else None
    if data is None:
        data = {}
    if data.get("assistant_id") == assistant_id:
        return config_text
    data["assistant_id"] = assistant_id
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def with_event_broker(endpoints_text: str, broker: dict[str, Any]) -> str:
    """endpoints.yml with its `event_broker` section replaced by `broker`."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    data = (yaml.load(endpoints_text) if endpoints_text.strip() else None) or {}
    data["event_broker"] = broker
    out = io.StringIO()
    YAML().dump(data, out)
    return out.getvalue()


def read_endpoints(text: str, file: str = "endpoints.yml") -> dict[str, Any]:
    """endpoints.yml's plain values (safe loader; ``${VAR}`` references left as they are), as
    a running bot reads them. Raises ValueError naming `file` when the text is not YAML or not
    a mapping."""
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ValueError(f"{file} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{file} must hold a mapping of endpoints")
    return data


def check_config(config: ConfigFile) -> list[Problem]:
    """Schema problems in a parsed config.yml."""
    collector = ProblemCollector(config.file or "config.yml", dict(config.lines))
    check = Checker(collector)
    data = config.data or {}
    check.keys(data, "", CONFIG_KEYS, what="config.yml", unknown="warning")
    for key in ("recipe", "language"):
        if key in data and data[key] is not None:
            check.string(data[key], key, key)
    for key_path, message in check_languages(data):
        check.error(key_path, message)
    if "assistant_id" in data and not isinstance(data["assistant_id"], (str, int)):
        check.error(
            "assistant_id", f"assistant_id must be a string, not {describe(data['assistant_id'])}"
        )
    if data.get("assistant_id") in (None, "placeholder_default"):
        check.warning(
            "assistant_id",
            "config.yml has no assistant_id; set a unique one so that conversations can be "
            "routed to this assistant",
        )
    for key in ("pipeline", "policies"):
        if data.get(key) is None:
            continue
        items = check.seq(data[key], key, key)
        for index, item in enumerate(items or []):
            path = join_path(key, index)
            spec = check.mapping(item, path, f"each item of {key}")
            if spec is not None and not isinstance(spec.get("name"), str):
                check.error(path, f"each item of {key} needs a 'name'")
            elif spec is not None:
                _check_component(check, key, join_path(path, "name"), spec["name"])
    return collector.problems


def _check_component(check: Checker, section: str, path: str, name: str) -> None:
    """A pipeline component or policy name: known to Rasa, or a custom class path."""
    known, other = (
        (PIPELINE_COMPONENTS, POLICIES)
        if section == "pipeline"
        else (POLICIES, PIPELINE_COMPONENTS)
    )
    what, whats = (
        ("pipeline component", "pipeline components")
        if section == "pipeline"
        else ("policy", "policies")
    )
    if name in known or _is_env(name):
        return
    if section == "pipeline" and name in STUDIO_PIPELINE_COMPONENTS:
        check.warning(
            path,
            f"'{name}' is a component of Studio's built-in engine (engine.nlu.pipeline): it "
            "trains with it, Rasa would refuse it",
        )
        return
    if "." in name.strip(".") and " " not in name:
        check.warning(
            path,
            f"'{name}' is a custom {what} (a class path): Studio cannot check it, and training "
            "needs its code on the Python path",
        )
        return
    if name in other:
        where = "policies" if section == "pipeline" else "pipeline"
        check.warning(path, f"'{name}' belongs under '{where}', not '{section}'")
        return
    close = sorted(n for n in known if n.lower() == name.lower())
    hint = f" Did you mean '{close[0]}'?" if close else ""
    check.error(
        path,
        f"unknown {what} '{name}': Rasa would refuse it. Use one of Rasa's {whats}, or the "
        f"class path (module.Class) of a custom one.{hint}",
    )


def check_endpoints(endpoints: EndpointsFile) -> list[Problem]:
    """Schema problems in a parsed endpoints.yml (event broker settings in detail)."""
    collector = ProblemCollector(endpoints.file or "endpoints.yml", dict(endpoints.lines))
    check = Checker(collector)
    data = endpoints.data or {}
    check.keys(data, "", ENDPOINT_KEYS, what="endpoints.yml", unknown="warning")
    for key in ("action_endpoint", "tracker_store", "lock_store", "nlg"):
        if data.get(key) is not None:
            check.mapping(data[key], key, key)
    action = data.get("action_endpoint")
    if isinstance(action, dict) and "url" not in action and "actions_module" not in action:
        check.error("action_endpoint", "action_endpoint needs a 'url' (or 'actions_module')")
    broker = data.get("event_broker")
    if broker is not None:
        _check_broker(check, broker)
    return collector.problems


def _check_broker(check: Checker, broker: Any) -> None:
    spec = check.mapping(broker, "event_broker", "event_broker")
    if spec is None:
        return
    kind = spec.get("type")
    if kind is None:
        if "url" not in spec:
            check.error("event_broker", "event_broker needs a 'type' (kafka, pika, sql, file)")
        return
    if not isinstance(kind, str):
        check.error(
            "event_broker.type", f"event_broker type must be a string, not {describe(kind)}"
        )
        return
    if kind not in EVENT_BROKER_TYPES and "." not in kind and not _is_env(kind):
        check.error(
            "event_broker.type",
            f"unknown event broker type '{kind}' (expected one of {', '.join(EVENT_BROKER_TYPES)}, "
            "or the module path of a custom broker)",
        )
        return
    for key in _REQUIRED_BROKER_KEYS.get(kind, ()):
        if key not in spec:
            check.error("event_broker", f"a {kind} event broker needs '{key}'")
    if kind in ("kafka", "concurrent_kafka"):
        check.keys(
            spec, "event_broker", _KAFKA_KEYS, what="a kafka event broker", unknown="warning"
        )
        url = spec.get("url")
        if url is not None and not isinstance(url, (str, list)):
            check.error(
                "event_broker.url",
                f"url must be a string or a list of brokers, not {describe(url)}",
            )
        protocol = spec.get("security_protocol")
        if protocol is not None and not _is_env(protocol):
            if not isinstance(protocol, str) or protocol.upper() not in KAFKA_SECURITY_PROTOCOLS:
                check.error(
                    "event_broker.security_protocol",
                    f"unknown Kafka security_protocol {describe(protocol)} (expected one of "
                    f"{', '.join(KAFKA_SECURITY_PROTOCOLS)})",
                )
        elif protocol is None:
            check.warning(
                "event_broker",
                "security_protocol is not set, and Rasa then uses SASL_PLAINTEXT; set "
                "'security_protocol: PLAINTEXT' for a broker without authentication",
            )
        mechanism = spec.get("sasl_mechanism")
        if (
            mechanism is not None
            and not _is_env(mechanism)
            and (not isinstance(mechanism, str) or mechanism.upper() not in KAFKA_SASL_MECHANISMS)
        ):
            check.error(
                "event_broker.sasl_mechanism",
                f"unknown sasl_mechanism {describe(mechanism)} (expected one of "
                f"{', '.join(KAFKA_SASL_MECHANISMS)})",
            )
        for key in ("partition_by_sender", "ssl_check_hostname", "stream_pii"):
            if key in spec and not isinstance(spec[key], bool) and not _is_env(spec[key]):
                check.error(
                    f"event_broker.{key}", f"{key} must be true or false, not {describe(spec[key])}"
                )
        if (
            "queue_size" in spec
            and not isinstance(spec["queue_size"], int)
            and not _is_env(spec["queue_size"])
        ):
            check.error("event_broker.queue_size", "queue_size must be an integer")
    elif kind == "file":
        if "path" in spec and not isinstance(spec["path"], str):
            check.error("event_broker.path", "path must be a string")
    elif kind == "pika":
        for key in ("username", "password"):
            if key not in spec:
                check.warning("event_broker", f"a pika event broker usually needs '{key}'")


_STARTER_PIPELINE = """\
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 2
    max_ngram: 4
"""

_STARTER_MODERN = """\
  - name: LogisticRegressionClassifier
  - name: NLUCommandAdapter

policies:
  - name: FlowPolicy
"""

_STARTER_CLASSIC = """\
  - name: DIETClassifier
    epochs: 100
  - name: EntitySynonymMapper
  - name: ResponseSelector
    epochs: 100

policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: TEDPolicy
    epochs: 100
"""


def starter_config(*, assistant_id: str, language: str, modern: bool) -> str:
    """The config.yml a new assistant starts with: Rasa's default recipe, an NLU pipeline that
    trains on a CPU in seconds, and the policies of its mode (CALM flows, or classic stories and
    rules). It is the assistant's own file from then on, edited on its config.yml page."""
    head = (
        "# The assistant's configuration, as Rasa reads it: edit it here or import your own.\n"
        "recipe: default.v1\n"
        f"language: {language}\n"
        f"assistant_id: {assistant_id}\n\n"
    )
    return head + _STARTER_PIPELINE + (_STARTER_MODERN if modern else _STARTER_CLASSIC)
