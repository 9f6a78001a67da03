"""How an assistant converses, read from its project: CALM flows, classic stories and rules run
by policies, or both behind a coexistence router (as Rasa Pro decides from config.yml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import formats


@dataclass(frozen=True)
class Dialogue:
    """`kind` is ``calm`` (flows), ``classic`` (stories and rules) or ``coexistence``."""

    kind: str
    flows: int = 0
    stories: int = 0
    rules: int = 0
    forms: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # the classic ones, in config order
    router: str = ""

    @property
    def label(self) -> str:
        if self.kind == "coexistence":
            return f"CALM flows and stories side by side, routed by {self.router}"
        if self.kind == "classic":
            return "Stories and rules, run by " + (", ".join(self.policies) or "policies")
        return "CALM flows"


def _names(components: list) -> list[str]:
    return [str(c.get("name")) for c in components if isinstance(c, dict) and c.get("name")]


def dialogue_of(project: formats.Project) -> Dialogue:
    """The assistant's way of conversing. Classic: config.yml lists a classic policy (or the
    project has stories or rules and no flows); coexistence: a router in the pipeline."""
    config = project.config
    policies = _names(config.policies) if config is not None else []
    pipeline = _names(config.pipeline) if config is not None else []
    data = formats.load_stories(project.other_files)
    classic = [name for name in policies if name in formats.CLASSIC_POLICIES]
    router = next((name for name in pipeline if name in formats.COEXISTENCE_ROUTERS), "")
    if router:
        kind = "coexistence"
    elif classic or (not project.flows and (data.stories or data.rules)):
        kind = "classic"
    else:
        kind = "calm"
    forms = project.domain.forms if isinstance(project.domain.forms, dict) else {}
    return Dialogue(
        kind=kind,
        flows=len(project.flows),
        stories=len(data.stories),
        rules=len(data.rules),
        forms=[str(name) for name in forms],
        policies=classic,
        router=router,
    )
