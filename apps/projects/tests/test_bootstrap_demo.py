import re
from io import StringIO

from django.core.management import call_command

from apps.accounts.models import User
from apps.accounts.roles import ROLE_LABELS, Role


def run(*args):
    out = StringIO()
    call_command("bootstrap_demo", *args, stdout=out)
    return out.getvalue()


def test_it_creates_one_user_per_role_and_prints_passwords_once(db):
    first = run()
    logins = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s+\(", first, re.MULTILINE))
    assert len(logins) == len(Role)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.global_roles() == {Role.SUPERUSER}
    assert admin.check_password(logins["admin"])
    flow_builder = User.objects.get(username="flow-builder")
    assert flow_builder.global_roles() == {Role.FLOW_BUILDER}
    assert flow_builder.check_password(logins["flow-builder"])
    second = run()
    assert "Demo users exist" in second and logins["admin"] not in second
    assert User.objects.count() == len(ROLE_LABELS)


def test_it_resets_passwords_on_request(db):
    old = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s+\(", run(), re.MULTILINE))
    new = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s+\(", run("--reset-passwords"), re.MULTILINE))
    assert old.keys() == new.keys() and old["admin"] != new["admin"]
    assert User.objects.get(username="admin").check_password(new["admin"])
