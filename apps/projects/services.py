"""Workflows on assistants. Each is one transaction."""

from django.db import transaction
from django.dispatch import Signal

from apps.projects.models import Assistant, AssistantFiles
from engine import formats

#: Sent by `delete_assistant` inside its transaction, just before the assistant is deleted
#: (keyword argument `assistant`). Apps that keep an assistant's data outside the database
#: connect to it: the training app forgets its stored model archives once the deletion commits.
assistant_deleting = Signal()


@transaction.atomic
def create_assistant(
    *,
    name: str,
    mode: str = "modern",
    language: str = "en",
    description: str = "",
    created_by,
    starter_config: bool = False,
) -> Assistant:
    """A new assistant. With `starter_config` (a new assistant made on the page or through the
    API) it starts with a config.yml for its mode and language, so it trains at once; an
    assistant about to receive an import gets only the imported project's config."""
    assistant = Assistant(
        name=name, mode=mode, language=language, description=description, created_by=created_by
    )
    assistant.full_clean()
    assistant.save()
    if starter_config:
        text = formats.starter_config(
            assistant_id=name, language=language, modern=assistant.is_modern
        )
        AssistantFiles.objects.create(assistant=assistant, config_yml=text)
    return assistant


@transaction.atomic
def delete_assistant(assistant: Assistant) -> None:
    """Delete the assistant with everything it owns (receivers of `assistant_deleting` first
    clean up what lives outside the database, such as stored model archives)."""
    assistant_deleting.send(sender=Assistant, assistant=assistant)
    assistant.delete()
