from django.apps import AppConfig


class NluConfig(AppConfig):
    name = "apps.nlu"
    label = "nlu"
    verbose_name = "NLU data"
