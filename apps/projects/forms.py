from django import forms

from apps.projects.models import Assistant
from engine.formats import limits


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
    partial = forms.BooleanField(
        required=False,
        label="Update only what the files contain",
        help_text="Unticked, the upload replaces all of the assistant's content.",
    )
