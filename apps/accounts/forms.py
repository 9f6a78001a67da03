from datetime import timedelta

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.models import Group

from apps.accounts.models import AssistantRole, User
from apps.accounts.roles import ROLE_CHOICES, ROLE_LABELS, Role


def _set_global_roles(user: User, roles: list[str]) -> None:
    labels = [ROLE_LABELS[Role(r)] for r in roles]
    role_groups = Group.objects.filter(name__in=ROLE_LABELS.values())
    user.groups.remove(*role_groups.exclude(name__in=labels))
    user.groups.add(*role_groups.filter(name__in=labels))


class UserCreateForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput, strip=False)
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=(
            "Global roles apply to every assistant. "
            "Grant a role on one assistant on its Members page."
        ),
    )

    class Meta:
        model = User
        fields = ["username", "email", "first_name", "last_name"]

    def clean_username(self):
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(f"A user called {username!r} already exists.")
        return username

    def _post_clean(self):
        super()._post_clean()
        password = self.cleaned_data.get("password")
        if password:
            try:
                password_validation.validate_password(password, self.instance)
            except forms.ValidationError as error:
                self.add_error("password", error)

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_password(self.cleaned_data["password"])
        user.save()
        _set_global_roles(user, self.cleaned_data["roles"])
        return user


class UserEditForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    new_password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        strip=False,
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "is_active"]

    def __init__(self, *args, acting_user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.acting_user = acting_user
        labels = set(self.instance.groups.values_list("name", flat=True))
        self.initial["roles"] = [r.value for r in Role if r.label in labels]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk == self.acting_user.pk:
            if not cleaned.get("is_active", True):
                self.add_error("is_active", "You cannot deactivate your own account.")
            if (
                Role.SUPERUSER.value not in cleaned.get("roles", [])
                and not self.instance.is_superuser
            ):
                self.add_error("roles", "You cannot take the SuperUser role from yourself.")
        password = cleaned.get("new_password")
        if password:
            try:
                password_validation.validate_password(password, self.instance)
            except forms.ValidationError as error:
                self.add_error("new_password", error)
        return cleaned

    def save(self, commit=True):
        user = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            user.set_password(self.cleaned_data["new_password"])
        user.save()
        _set_global_roles(user, self.cleaned_data["roles"])
        return user


class AssistantGrantForm(forms.Form):
    """Grant a role on one assistant to an existing account, named by its exact username.

    The accounts are not offered as a list: a SuperUser of one assistant must not learn who
    else has an account. `suggest` (usernames for the browser to complete) is for those who
    may see every account anyway."""

    DATALIST = "grant-usernames"

    user = forms.CharField(
        label="Username",
        max_length=150,
        help_text="The exact username of an existing account.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    # No role is chosen in advance: granting SuperUser by accident is one click away otherwise.
    role = forms.ChoiceField(choices=[("", "Choose a role…"), *ROLE_CHOICES])

    def __init__(self, *args, assistant, suggest: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant
        self.suggestions = []
        if suggest:
            self.suggestions = list(
                User.objects.filter(is_active=True).values_list("username", flat=True)
            )
            self.fields["user"].widget.attrs["list"] = self.DATALIST

    def clean_user(self):
        username = self.cleaned_data["user"].strip()
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                f"No active account has the username \u201c{username}\u201d (it must match "
                "exactly)."
            )
        return user

    def clean(self):
        cleaned = super().clean()
        user, role = cleaned.get("user"), cleaned.get("role")
        if (
            user
            and role
            and AssistantRole.objects.filter(
                user=user, assistant=self.assistant, role=role
            ).exists()
        ):
            raise forms.ValidationError(f"{user.username} already has that role on this assistant.")
        return cleaned

    def save(self) -> AssistantRole:
        return AssistantRole.objects.create(
            user=self.cleaned_data["user"], assistant=self.assistant, role=self.cleaned_data["role"]
        )


class ApiTokenForm(forms.Form):
    EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "Never")]
    DEFAULT_EXPIRY = "90"

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    expires_in = forms.ChoiceField(
        label="Expires after",
        choices=EXPIRY_CHOICES,
        initial=DEFAULT_EXPIRY,
        required=False,
        help_text="An expired token is refused; create a new one then.",
    )

    def clean_expires_in(self) -> timedelta | None:
        days = self.cleaned_data.get("expires_in") or self.DEFAULT_EXPIRY
        return None if days == "never" else timedelta(days=int(days))
