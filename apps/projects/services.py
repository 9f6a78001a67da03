"""Workflows on assistants. Each is one transaction."""

from django.db import transaction

from apps.projects.models import Assistant


@transaction.atomic
def create_assistant(
    *, name: str, mode: str = "modern", language: str = "en", description: str = "", created_by
) -> Assistant:
    assistant = Assistant(
        name=name, mode=mode, language=language, description=description, created_by=created_by
    )
    assistant.full_clean()
    assistant.save()
    return assistant


@transaction.atomic
def delete_assistant(assistant: Assistant) -> None:
    assistant.delete()
