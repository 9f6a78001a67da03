"""A comparable picture of an assistant's content rows (ids and timestamps left out)."""

from apps.flows.models import CustomAction, Flow, Response, Slot
from apps.nlu.models import Entity, Example, Intent, LookupTable, Regex, Synonym
from apps.projects.models import AssistantFiles


def snapshot(assistant) -> dict:
    rows = {}
    for model, fields in (
        (Flow, ["name", "title", "description", "definition", "position"]),
        (Response, ["name", "variations", "position"]),
        (Slot, ["name", "type", "definition", "position"]),
        (CustomAction, ["name", "description", "definition", "position"]),
        (Intent, ["name", "description", "definition", "in_domain", "nlu_metadata", "position"]),
        (Entity, ["name", "definition", "position"]),
        (Synonym, ["name", "examples", "position"]),
        (Regex, ["name", "examples", "position"]),
        (LookupTable, ["name", "examples", "position"]),
    ):
        rows[model.__name__] = list(
            model.objects.filter(assistant=assistant).order_by("name").values(*fields)
        )
    rows["Example"] = list(
        Example.objects.filter(intent__assistant=assistant)
        .order_by("intent__name", "position", "text")
        .values("intent__name", "text", "entities", "metadata", "position")
    )
    rows["Files"] = list(
        AssistantFiles.objects.filter(assistant=assistant).values(
            "config_yml", "endpoints_yml", "prompts", "other_files", "domain_extras"
        )
    )
    return rows
