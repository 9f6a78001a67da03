from django.apps import AppConfig


class NluConfig(AppConfig):
    name = "apps.nlu"
    label = "nlu"
    verbose_name = "NLU data"

    def ready(self):
        from apps.accounts.roles import Cap
        from apps.projects.navigation import Page, register

        register(Page("nlu", "NLU", "nlu:intents", Cap.VIEW_NLU), before="members")
