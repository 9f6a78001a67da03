from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "apps.flows"
    label = "flows"
    verbose_name = "Flows, responses, slots and actions"
