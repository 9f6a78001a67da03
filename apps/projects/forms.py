from django import forms
from django.conf import settings

from apps.projects.models import Assistant, secret_name_validator
from engine import formats

limits = formats.limits  # length limits, one place for every field


class AssistantCreateForm(forms.ModelForm):
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=limits.DESCRIPTION
    )

    class Meta:
        model = Assistant
        fields = ["name", "mode", "language", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Assistant.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(f"An assistant called {name!r} already exists.")
        return name


class AssistantSettingsForm(forms.ModelForm):
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=limits.DESCRIPTION
    )

    class Meta:
        model = Assistant
        fields = ["mode", "language", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class DeleteAssistantForm(forms.Form):
    confirm_name = forms.CharField(label="Type the assistant's name to confirm", max_length=200)

    def __init__(self, *args, assistant: Assistant, **kwargs):
        super().__init__(*args, **kwargs)
        self.assistant = assistant

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.assistant.name:
            raise forms.ValidationError(
                f"That is not the name of this assistant: type {self.assistant.name} exactly."
            )
        return value


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)]


class ImportForm(forms.Form):
    files = MultipleFileField(
        label="Rasa project files",
        help_text="A zip of the project, or files such as domain.yml, flows.yml and nlu.yml.",
    )
    UPDATE = "update"
    REPLACE = "replace"
    mode = forms.ChoiceField(
        label="How to import",
        choices=[
            (UPDATE, "Update only what the files contain"),
            (REPLACE, "Replace all content (you confirm what is deleted first)"),
        ],
        initial=UPDATE,
        required=False,
        widget=forms.RadioSelect,
        help_text="Updating replaces the items of the same name and keeps everything else.",
    )

    def clean(self):
        data = super().clean()
        data["partial"] = data.get("mode") != self.REPLACE
        return data


class SecretForm(forms.Form):
    """Set one of the assistant's secrets. The value is write-only: it is never shown again."""

    name = forms.CharField(
        max_length=128,
        validators=[secret_name_validator],
        help_text="Use it as ${NAME} in endpoints.yml.",
    )
    value = forms.CharField(
        max_length=10000,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted; nobody can read it here again. Setting a name again "
        "replaces its value.",
    )

    def clean_name(self):
        from apps.projects.secrets import RESERVED_NAME

        name = self.cleaned_data["name"]
        if RESERVED_NAME.match(name):
            raise forms.ValidationError(
                f"{name} is reserved: it would change how the bot itself runs."
            )
        if name in settings.STUDIO_BOT_ENV:
            raise forms.ValidationError(
                f"{name} is a variable the operator gives every bot (STUDIO_BOT_ENV): "
                "choose another name."
            )
        return name
