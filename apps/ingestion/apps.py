from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "apps.ingestion"
    label = "ingestion"
    verbose_name = "Conversations"

    def ready(self):
        from apps.accounts.roles import Cap
        from apps.projects.navigation import Page, register

        register(
            Page("conversations", "Conversations", "ingestion:list", Cap.VIEW_CONVERSATIONS),
            before="members",
        )
