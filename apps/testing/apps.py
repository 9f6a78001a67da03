from django.apps import AppConfig


class TestingConfig(AppConfig):
    name = "apps.testing"
    label = "testing"
    verbose_name = "Test cases and test runs"

    def ready(self):
        from apps.accounts.roles import Cap
        from apps.projects.navigation import Page, register

        register(Page("tests", "Tests", "testing:tests", Cap.VIEW_FLOWS), before="members")
