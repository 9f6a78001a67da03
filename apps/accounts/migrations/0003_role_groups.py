"""Create one group per Rasa Studio role. The labels are written out here, not imported, so the
migration keeps doing what it did when it was written."""

from django.db import migrations

ROLE_GROUPS = [
    "SuperUser",
    "Developer",
    "Flow Builder",
    "NLU Editor",
    "Business User",
    "Lead Annotator",
    "Annotator",
    "Conversation Analyst",
    "Conversation Viewer",
]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
