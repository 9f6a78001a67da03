from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self):
        from apps.accounts.roles import Cap
        from apps.projects.navigation import Page, register

        register(
            Page("analytics", "Analytics", "analytics:dashboard", Cap.VIEW_ANALYTICS),
            after="conversations",
        )
