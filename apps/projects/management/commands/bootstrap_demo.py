"""Create the demo logins (one SuperUser and one user per role) and the demo assistant.

Passwords are random and printed once, when the users are created (or with --reset-passwords);
they are not stored anywhere else. Running it again changes nothing.
"""

import secrets

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.projects import content, services
from apps.projects.content.archives import read_project_dir
from apps.projects.models import Assistant
from demo import HARBOR_BANK as DEMO_DIR

SUPERUSER_NAME = "admin"
DEMO_ASSISTANT = "harbor_bank"


def demo_username(role: Role) -> str:
    return SUPERUSER_NAME if role is Role.SUPERUSER else role.value.replace("_", "-")


class Command(BaseCommand):
    help = "Create the demo SuperUser and one demo user per role, printing new passwords once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give every demo user a new random password and print them.",
        )

    def handle(self, *args, reset_passwords=False, **options):
        self.load_demo_assistant()
        self.create_users(reset_passwords)

    def load_demo_assistant(self):
        """The demo assistant, imported once; later runs leave the team's edits alone."""
        if Assistant.objects.filter(name=DEMO_ASSISTANT).exists():
            return
        with transaction.atomic():
            assistant = services.create_assistant(
                name=DEMO_ASSISTANT,
                created_by=None,
                description="Harbor Bank: balances, transfers, cards and more (the demo).",
            )
            report = content.import_files(assistant, read_project_dir(DEMO_DIR))
        summary = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        self.stdout.write(f"Loaded the demo assistant {DEMO_ASSISTANT}: {summary}.")

    def create_users(self, reset_passwords):
        created = []
        with transaction.atomic():
            for role in Role:
                username = demo_username(role)
                user, is_new = User.objects.get_or_create(
                    username=username,
                    defaults={"email": f"{username}@example.com", "first_name": role.label},
                )
                if role is Role.SUPERUSER and not user.is_superuser:
                    user.is_superuser = user.is_staff = True
                    user.save(update_fields=["is_superuser", "is_staff"])
                user.groups.add(Group.objects.get_or_create(name=role.label)[0])
                if is_new or reset_passwords:
                    password = secrets.token_urlsafe(12)
                    user.set_password(password)
                    user.save(update_fields=["password"])
                    created.append((username, role.label, password))
        if not created:
            self.stdout.write(
                "Demo users exist; their passwords were printed when they were created. "
                "New ones: manage.py bootstrap_demo --reset-passwords"
            )
            return
        self.stdout.write("Demo logins (shown once, keep them):")
        width = max(len(u) for u, _, _ in created)
        for username, label, password in created:
            self.stdout.write(f"  {username.ljust(width)}  {password}  ({label})")
