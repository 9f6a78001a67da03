from django.apps import AppConfig


class ComparisonConfig(AppConfig):
    name = "apps.comparison"
    label = "comparison"
    verbose_name = "Version comparisons and conversation replays"
    default_auto_field = "django.db.models.BigAutoField"
