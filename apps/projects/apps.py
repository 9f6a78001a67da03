from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "apps.projects"
    label = "projects"
    verbose_name = "Assistants"

    def ready(self):
        from apps.accounts.roles import Cap
        from apps.projects.navigation import Page, register

        # After the CMS pages (flows, responses, slots, custom actions) of the flows app.
        register(
            Page("knowledge", "Knowledge", "projects:knowledge", Cap.VIEW_FLOWS), after="actions"
        )
        register(
            Page("stories", "Stories and rules", "projects:stories", Cap.VIEW_FLOWS),
            after="knowledge",
        )
