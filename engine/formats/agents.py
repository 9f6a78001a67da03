"""Sub-agents: the folders ``sub_agents/<folder>/`` that a flow's ``call`` step can name.

Rasa Pro reads every folder of ``sub_agents/`` as one agent: its ``config.yml`` holds an
``agent`` section (``name``, ``description``, optional ``protocol``: ``RASA`` or ``A2A``), an
optional ``configuration`` (llm, prompt_template, module, timeouts...) and optional
``connections`` (``mcp_servers``). A call step names an agent by its ``agent.name`` (not by the
folder's name). The folder may also hold prompt templates and Python modules.

Studio keeps these files verbatim (`Project.other_files`); this module reads the agents from
them (`sub_agents`, `sub_agent_names`) and reports what Rasa would refuse about them
(`check_sub_agents`), naming the file, line and key.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from engine.formats.errors import FormatError, Problem, ProblemCollector, join_path
from engine.formats.yamlio import load_yaml

__all__ = [
    "SUB_AGENTS_DIR",
    "SubAgent",
    "check_sub_agents",
    "mcp_server_names",
    "sub_agent_names",
    "sub_agents",
]

SUB_AGENTS_DIR = "sub_agents"
AGENT_CONFIG_FILE = "config.yml"
PROTOCOLS = ("RASA", "A2A")

#: The keys Rasa allows in each section of a sub-agent's config.yml.
ALLOWED_KEYS: dict[str, frozenset[str]] = {
    "agent": frozenset({"name", "protocol", "description"}),
    "configuration": frozenset(
        {
            "llm",
            "prompt_template",
            "module",
            "timeout",
            "tool_timeout",
            "max_retries",
            "agent_card",
            "auth",
            "include_date_time",
            "timezone",
            "enable_filler_messages",
            "max_polling_time",
            "polling_initial_delay",
            "pre_call_hook",
            "push_notification_url",
        }
    ),
    "connections": frozenset({"mcp_servers"}),
}
_TOP_KEYS = frozenset(ALLOWED_KEYS)


@dataclass(frozen=True)
class SubAgent:
    """One sub-agent as its config.yml describes it."""

    name: str
    description: str
    #: The agent's folder, ``sub_agents/<folder>``.
    folder: str
    protocol: str = "RASA"
    #: The names of the MCP servers it connects to (``connections.mcp_servers[].name``).
    mcp_servers: tuple[str, ...] = ()

    @property
    def config_file(self) -> str:
        return f"{self.folder}/{AGENT_CONFIG_FILE}"


def _folders(files: Collection[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The files of each folder of ``sub_agents/`` ({folder path: [file paths]}), and the files
    directly inside ``sub_agents/`` (Rasa allows only folders there)."""
    folders: dict[str, list[str]] = {}
    loose: list[str] = []
    for path in sorted(files):
        parts = path.split("/")
        if len(parts) < 2 or parts[0] != SUB_AGENTS_DIR:
            continue
        if len(parts) == 2:
            loose.append(path)
        else:
            folders.setdefault(f"{SUB_AGENTS_DIR}/{parts[1]}", []).append(path)
    return folders, loose


def _parse_agent(folder: str, data: Any) -> SubAgent | None:
    """The agent of a parsed config.yml, or None when it names none."""
    if not isinstance(data, dict):
        return None
    agent = data.get("agent")
    if not isinstance(agent, dict) or not isinstance(agent.get("name"), str) or not agent["name"]:
        return None
    description = agent.get("description")
    protocol = agent.get("protocol")
    return SubAgent(
        name=agent["name"],
        description=description.strip() if isinstance(description, str) else "",
        folder=folder,
        protocol=protocol.upper() if isinstance(protocol, str) else "RASA",
        mcp_servers=tuple(_server_names(data.get("connections"))),
    )


def _server_names(connections: Any) -> list[str]:
    if not isinstance(connections, dict) or not isinstance(connections.get("mcp_servers"), list):
        return []
    return [
        server["name"]
        for server in connections["mcp_servers"]
        if isinstance(server, dict) and isinstance(server.get("name"), str)
    ]


def sub_agents(files: Mapping[str, str]) -> dict[str, SubAgent]:
    """The sub-agents of a project's kept files ({agent name: agent}), in folder order.

    A folder whose config.yml is missing or unreadable, or names no agent, is left out
    (`check_sub_agents` reports it); of two folders with the same agent name the first wins.
    """
    folders, _ = _folders(files)
    found: dict[str, SubAgent] = {}
    for folder in folders:
        text = files.get(f"{folder}/{AGENT_CONFIG_FILE}")
        if text is None:
            continue
        try:
            data = load_yaml(text, f"{folder}/{AGENT_CONFIG_FILE}").data
        except FormatError:
            continue
        agent = _parse_agent(folder, data)
        if agent is not None:
            found.setdefault(agent.name, agent)
    return found


def sub_agent_names(files: Mapping[str, str]) -> set[str]:
    """The names a call step may use to call a sub-agent of the project."""
    return set(sub_agents(files))


def mcp_server_names(endpoints_data: Any) -> set[str] | None:
    """The MCP servers endpoints.yml defines (``mcp_servers[].name``); None without endpoints."""
    if not isinstance(endpoints_data, dict):
        return None
    servers = endpoints_data.get("mcp_servers")
    if not isinstance(servers, list):
        return set()
    return {s["name"] for s in servers if isinstance(s, dict) and isinstance(s.get("name"), str)}


def check_sub_agents(
    files: Mapping[str, str],
    flow_ids: Collection[str] = (),
    mcp_servers: Collection[str] | None = None,
    prompt_files: Collection[str] = (),
) -> list[Problem]:
    """What Rasa refuses about the project's sub-agents (as errors), and a prompt template
    it would not find (a warning: Rasa falls back to its default prompt).

    `mcp_servers` are the servers endpoints.yml defines (None when the project has no
    endpoints.yml: references are then not checked, as ``rasa data validate`` without
    endpoints); `prompt_files` are the other files the project keeps (prompt templates).
    """
    folders, loose = _folders(files)
    problems: list[Problem] = []
    for path in loose:
        problems.append(
            Problem(
                path,
                None,
                "",
                f"'{path}' is not a folder: each sub-agent is a folder "
                f"{SUB_AGENTS_DIR}/<name>/ holding a {AGENT_CONFIG_FILE}",
            )
        )
    seen: dict[str, str] = {}
    known_files = set(files) | set(prompt_files)
    for folder in folders:
        config_path = f"{folder}/{AGENT_CONFIG_FILE}"
        text = files.get(config_path)
        if text is None:
            problems.append(
                Problem(
                    folder,
                    None,
                    "",
                    f"the sub-agent folder '{folder}/' has no {AGENT_CONFIG_FILE}: each "
                    "sub-agent folder must hold one",
                )
            )
            continue
        try:
            doc = load_yaml(text, config_path)
        except FormatError as exc:
            problems.extend(exc.problems)
            continue
        collector = ProblemCollector(config_path, doc.lines)
        agent = _check_config(doc.data, collector, mcp_servers, known_files)
        if agent is not None:
            if agent.name in seen:
                collector.error(
                    "agent.name",
                    f"sub-agent name '{agent.name}' is also used by '{seen[agent.name]}': "
                    "sub-agent names must be unique",
                )
            else:
                seen[agent.name] = config_path
            if agent.name in flow_ids:
                collector.error(
                    "agent.name",
                    f"sub-agent name '{agent.name}' is also the id of a flow: a call step "
                    "could not tell them apart; rename the agent or the flow",
                )
        problems.extend(collector.problems)
    return problems


def _check_config(
    data: Any,
    check: ProblemCollector,
    mcp_servers: Collection[str] | None,
    known_files: Collection[str],
) -> SubAgent | None:
    if not isinstance(data, dict):
        check.error("", "a sub-agent's config.yml must be a mapping with an 'agent' section")
        return None
    for key in sorted(set(data) - _TOP_KEYS, key=str):
        check.error(
            str(key),
            f"unknown section '{key}' in a sub-agent's config.yml "
            "(expected agent, configuration, connections)",
        )
    for section, allowed in ALLOWED_KEYS.items():
        body = data.get(section)
        if section in data and body is not None and not isinstance(body, dict):
            check.error(section, f"'{section}' must be a mapping")
            continue
        for key in sorted(set(body or {}) - allowed, key=str):
            check.error(
                join_path(section, str(key)),
                f"unknown key '{key}' in the '{section}' section "
                f"(allowed: {', '.join(sorted(allowed))})",
            )
    agent = data.get("agent")
    if not isinstance(agent, dict):
        check.error("agent" if "agent" in data else "", "the 'agent' section is missing")
        return None
    for key in ("name", "description"):
        value = agent.get(key)
        if not isinstance(value, str) or not value.strip():
            check.error(
                join_path("agent", key) if key in agent else "agent",
                f"the agent's '{key}' is missing: it must be a non-empty string",
            )
    protocol = agent.get("protocol", "RASA")
    if not isinstance(protocol, str) or protocol.upper() not in PROTOCOLS:
        check.error(
            "agent.protocol", f"unknown protocol {protocol!r}: use {' or '.join(PROTOCOLS)}"
        )
        return None
    parsed = _parse_agent("", data)
    if parsed is None:
        return None
    if protocol.upper() == "A2A":
        _check_a2a(data, check)
    else:
        _check_mcp_connections(data, check, mcp_servers)
    _check_prompt_template(data, check, known_files)
    return parsed


def _check_a2a(data: dict[str, Any], check: ProblemCollector) -> None:
    configuration = data.get("configuration") or {}
    card = configuration.get("agent_card") if isinstance(configuration, dict) else None
    if not isinstance(card, str) or not card.strip():
        check.error(
            "configuration" if "configuration" in data else "agent.protocol",
            "an A2A agent needs 'configuration.agent_card' (a URL or a file of the project)",
        )


def _check_mcp_connections(
    data: dict[str, Any], check: ProblemCollector, mcp_servers: Collection[str] | None
) -> None:
    connections = data.get("connections")
    servers = connections.get("mcp_servers") if isinstance(connections, dict) else None
    if not isinstance(servers, list) or not servers:
        check.error(
            join_path("connections", "mcp_servers") if isinstance(connections, dict) else "agent",
            "an agent of protocol RASA needs at least one server in 'connections.mcp_servers'",
        )
        return
    for index, server in enumerate(servers):
        path = join_path("connections", "mcp_servers", index)
        name = server.get("name") if isinstance(server, dict) else None
        if not isinstance(name, str) or not name:
            check.error(path, "each MCP server of an agent needs a 'name'")
        elif mcp_servers is not None and name not in mcp_servers:
            shown = ", ".join(sorted(mcp_servers)) or "none"
            check.error(
                join_path(path, "name"),
                f"MCP server '{name}' is not defined in endpoints.yml's mcp_servers "
                f"(defined: {shown})",
            )


def _check_prompt_template(
    data: dict[str, Any], check: ProblemCollector, known_files: Collection[str]
) -> None:
    configuration = data.get("configuration")
    if not isinstance(configuration, dict):
        return
    template = configuration.get("prompt_template")
    if template is None:
        return
    if not isinstance(template, str):
        check.error("configuration.prompt_template", "prompt_template must be a file path")
        return
    if posixpath.normpath(template) not in known_files:
        check.warning(
            "configuration.prompt_template",
            f"prompt template '{template}' is not in the project: Rasa uses its default prompt",
        )
