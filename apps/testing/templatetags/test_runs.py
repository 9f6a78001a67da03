"""{% latest_test_run version as run %}: the newest test run of a version (Versions page)."""

from django import template

from apps.testing.models import TestRun

register = template.Library()


@register.simple_tag
def latest_test_run(version):
    return TestRun.objects.filter(version=version).order_by("-created_at", "-id").first()
