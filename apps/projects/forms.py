"""Forms of the assistant pages (create, settings, delete, import, secrets, config.yml and
endpoints.yml), and what the forms of every app share: problems of a refused content change put
on the form, and confirming a deletion by typing the name."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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


class ContentProblemsMixin:
    """For forms whose save may be refused with `ContentInvalid`: `add_problems` puts its
    problems on the form."""

    def add_problems(
        self,
        problems: Iterable,
        field: str | None = None,
        *,
        prefix: str = "",
        field_of: Callable[[object], str | None] | None = None,
    ) -> None:
        """Each problem's message (after `prefix`) on `field`, or on the field `field_of(problem)`
        names; on the form itself (non-field errors) when that is None or not a field."""
        for problem in problems:
            target = field_of(problem) if field_of is not None else field
            if target is not None and target not in self.fields:
                target = None
            self.add_error(target, prefix + problem.message)


class ConfirmNameForm(ContentProblemsMixin, forms.Form):
    """Confirm a deletion by typing the name of what goes (an assistant, a flow, an item)."""

    def __init__(
        self,
        *args,
        name: str,
        label: str = "Type the name to confirm",
        mismatch: str | None = None,
        max_length: int = 255,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fields["confirm_name"] = forms.CharField(label=label, max_length=max_length)
        self.name = name
        self.mismatch = mismatch or f"Type {name} exactly to delete it."

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.name:
            raise forms.ValidationError(self.mismatch)
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

    # Advanced: where things are in the archive (as rasa train is told; blank: Rasa's defaults).
    config = forms.CharField(
        label="Config file",
        required=False,
        max_length=500,
        help_text="Its path in the archive, if not config.yml (like rasa train --config).",
    )
    domain = forms.CharField(
        label="Domain file or folder",
        required=False,
        max_length=500,
        help_text="If not domain.yml or domain/ (like --domain).",
    )
    data_paths = forms.CharField(
        label="Training data files or folders",
        required=False,
        max_length=2000,
        help_text="If not data/; separate several with spaces (like --data).",
    )
    endpoints = forms.CharField(
        label="Endpoints file",
        required=False,
        max_length=500,
        help_text="If not endpoints.yml (like --endpoints).",
    )
    #: The location fields, as `locate_upload` reads them from `cleaned_data` (the data paths
    #: are typed in `data_paths` and cleaned into the list `data`).
    LOCATION_FIELDS = ("config", "domain", "data", "endpoints")
    _LOCATION_INPUTS = ("config", "domain", "data_paths", "endpoints")

    def main_fields(self):
        return [f for f in self.visible_fields() if f.name not in self._LOCATION_INPUTS]

    def location_fields(self):
        return [self[name] for name in self._LOCATION_INPUTS]

    def has_locations(self) -> bool:
        return any(self[name].value() for name in self._LOCATION_INPUTS)

    def clean(self):
        cleaned = super().clean() or {}
        cleaned["partial"] = cleaned.get("mode") != self.REPLACE
        cleaned["data"] = (cleaned.get("data_paths") or "").replace(",", " ").split()
        return cleaned


def locate_upload(files: dict, fields: dict) -> formats.Located:
    """The uploaded `files` with the location fields of `fields` (config, domain, data,
    endpoints: paths inside the upload) applied; FormatError naming the field and the path
    of a location that is not in the upload."""
    data = [path for path in fields.get("data") or [] if path]
    if not (fields.get("config") or fields.get("domain") or data or fields.get("endpoints")):
        return formats.Located(files=files)
    located = formats.locate_files(
        files,
        config=fields.get("config") or None,
        domain=fields.get("domain") or None,
        data=data or None,
        endpoints=fields.get("endpoints") or None,
        names={name: name for name in ImportForm.LOCATION_FIELDS},
    )
    # What reading the upload skipped (a link to a file not in the zip) is reported as without
    # locations.
    kept = formats.FolderFiles()
    kept.update(located.files)
    kept.skipped.update(getattr(files, "skipped", {}))
    located.files = kept
    return located


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


class AssistantFileForm(forms.Form):
    """config.yml or endpoints.yml as text, checked with engine.formats before saving."""

    text = forms.CharField(
        required=False,
        strip=False,  # the file is stored exactly as written
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false"}),
    )

    def __init__(
        self, *args, file_name: str, env_names=(), assistant=None, stored: str = "", **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.file_name = file_name
        self.env_names = set(env_names)  # what ${NAME} may use
        self.assistant = assistant
        self.stored = stored
        self.fields["text"].label = file_name
        self.warnings: list = []
        # (stored assistant_id, new one) while a change that stops routing awaits confirmation.
        self.assistant_id_change: tuple[str | None, str | None] | None = None

    def _check_assistant_id(self, config) -> None:
        """Conversations reach this assistant by `assistant_id` = its name: a change away from
        it is saved only once the user confirms it (the form posts confirm_assistant_id)."""
        if self.assistant is None:
            return
        try:
            before = formats.ConfigFile.parse(self.stored, self.file_name).assistant_id
        except formats.FormatError:
            before = None
        after = config.assistant_id
        if after == before or (after or "").lower() == self.assistant.name.lower():
            return
        if self.data.get("confirm_assistant_id") == (after or ""):
            return
        self.assistant_id_change = (before, after)
        change = (
            f"assistant_id changes from '{before}' to '{after}'"
            if before is not None and after is not None
            else f"assistant_id '{before}' is removed"
            if after is None
            else f"assistant_id becomes '{after}'"
        )
        raise forms.ValidationError(
            f"{change}. Studio routes conversations to this assistant by its name "
            f"'{self.assistant.name}': the conversations of bots trained with this config will "
            "no longer reach it (they are kept as unrouted events). Save anyway to confirm."
        )

    def clean_text(self):
        text = self.cleaned_data["text"]
        if not text.strip():
            return ""
        config = None
        try:
            if self.file_name == "config.yml":
                parsed = config = formats.ConfigFile.parse(text, self.file_name)
                problems = formats.check_config(config)
            else:
                parsed = formats.EndpointsFile.parse(text, self.file_name)
                problems = formats.check_endpoints(parsed)
            problems += formats.check_env_references(
                text, parsed.data, self.file_name, self.env_names
            )
        except formats.FormatError as exc:
            problems = exc.problems
        errors = [p for p in problems if p.severity == "error"]
        self.warnings = [p for p in problems if p.severity != "error"]
        if errors:
            raise forms.ValidationError(
                [
                    (f"Line {p.line}: " if p.line else "")
                    + p.message
                    + (f" ({p.path})" if p.path else "")
                    for p in errors
                ]
            )
        if config is not None:
            self._check_assistant_id(config)
        return text
