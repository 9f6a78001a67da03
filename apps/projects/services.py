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
    """Delete the assistant with everything it owns; its stored model archives (which embed
    the training data) and their local copies go once the deletion is committed."""
    from apps.training import services as training

    archives = list(assistant.versions.exclude(model_file="").values_list("model_file", flat=True))
    assistant.delete()
    transaction.on_commit(lambda: training.forget_model_files(archives))
