from django.contrib.auth.models import Group
from django.urls import reverse

from apps.accounts.models import User
from apps.accounts.roles import Role


def test_a_superuser_creates_a_user_with_roles(admin_client):
    response = admin_client.post(
        reverse("accounts:user_create"),
        {
            "username": "dana",
            "email": "d@example.com",
            "password": "a-long-passphrase-9",
            "roles": ["developer", "annotator"],
        },
    )
    assert response.status_code == 302
    dana = User.objects.get(username="dana")
    assert dana.check_password("a-long-passphrase-9")
    assert dana.global_roles() == {Role.DEVELOPER, Role.ANNOTATOR}


def test_it_rejects_weak_passwords_and_duplicates(admin_client, make_user):
    make_user("Erin")
    response = admin_client.post(
        reverse("accounts:user_create"), {"username": "erin", "password": "123"}
    )
    page = response.content.decode()
    assert "A user called &#x27;erin&#x27; already exists." in page
    response = admin_client.post(
        reverse("accounts:user_create"), {"username": "fred", "password": "123"}
    )
    assert "This password is too short" in response.content.decode()
    assert not User.objects.filter(username="fred").exists()


def test_editing_replaces_the_global_roles(admin_client, make_user):
    gus = make_user("gus", Role.FLOW_BUILDER)
    gus.groups.add(Group.objects.create(name="unrelated"))
    url = reverse("accounts:user_edit", args=[gus.pk])
    response = admin_client.post(url, {"email": "", "is_active": "on", "roles": ["nlu_editor"]})
    assert response.status_code == 302
    gus = User.objects.get(pk=gus.pk)
    assert gus.global_roles() == {Role.NLU_EDITOR}
    assert gus.groups.filter(name="unrelated").exists()


def test_a_superuser_cannot_lock_themselves_out(client, make_user):
    boss = make_user("boss", Role.SUPERUSER)
    client.force_login(boss)
    url = reverse("accounts:user_edit", args=[boss.pk])
    page = client.post(url, {"email": "", "roles": ["superuser"]}).content.decode()
    assert "You cannot deactivate your own account." in page
    page = client.post(url, {"email": "", "is_active": "on", "roles": []}).content.decode()
    assert "You cannot take the SuperUser role from yourself." in page
    assert User.objects.get(pk=boss.pk).global_roles() == {Role.SUPERUSER}


def test_a_role_granted_on_one_assistant_opens_only_that_assistant(
    client, make_user, make_assistant
):
    alpha, beta = make_assistant("alpha"), make_assistant("beta")
    client.force_login(
        make_user("hal", grants={alpha: [Role.SUPERUSER], beta: [Role.BUSINESS_USER]})
    )
    assert client.get(reverse("projects:settings", args=["alpha"])).status_code == 200
    assert client.get(reverse("projects:settings", args=["beta"])).status_code == 403
    assert client.get(reverse("projects:overview", args=["beta"])).status_code == 200
    # A SuperUser grant on one assistant does not make its holder a global SuperUser.
    assert client.get(reverse("accounts:user_list")).status_code == 403


def test_login_and_password_change(client, make_user):
    make_user("ida")
    response = client.post(reverse("accounts:login"), {"username": "ida", "password": "wrong"})
    assert "Please enter a correct username and password" in response.content.decode()
    response = client.post(reverse("accounts:login"), {"username": "ida", "password": "pw"})
    assert response["Location"] == reverse("projects:welcome")
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "pw",
            "new_password1": "another-long-phrase-7",
            "new_password2": "another-long-phrase-7",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="ida").check_password("another-long-phrase-7")


def test_a_superuser_sets_a_new_password_that_must_be_strong(admin_client, make_user):
    lee = make_user("lee")
    url = reverse("accounts:user_edit", args=[lee.pk])
    page = admin_client.post(url, {"is_active": "on", "new_password": "abc"}).content.decode()
    assert "This password is too short" in page
    assert User.objects.get(pk=lee.pk).check_password("pw")
    admin_client.post(url, {"is_active": "on", "new_password": "fresh-long-phrase-3"})
    assert User.objects.get(pk=lee.pk).check_password("fresh-long-phrase-3")
