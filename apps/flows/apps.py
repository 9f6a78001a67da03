from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "apps.flows"
    label = "flows"
    verbose_name = "Flows, responses, slots and actions"

    def ready(self):
        from apps.accounts.roles import Cap
        from apps.projects.navigation import Page, register

        modern = ("modern",)
        register(
            Page("flows", "Flows", "flows:list", Cap.VIEW_FLOWS, modes=modern), before="members"
        )
        register(
            Page("responses", "Responses", "flows:responses", Cap.VIEW_FLOWS), before="members"
        )
        register(Page("slots", "Slots", "flows:slots", Cap.VIEW_FLOWS), before="members")
        register(
            Page("actions", "Custom actions", "flows:actions", Cap.VIEW_FLOWS), before="members"
        )
        register(
            Page("translations", "Translations", "flows:translations", Cap.VIEW_FLOWS),
            before="members",
        )
        register(
            Page("languages", "Languages", "flows:languages", Cap.MANAGE_SETTINGS),
            after="settings",
        )
