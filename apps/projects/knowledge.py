"""The Knowledge page: the assistant's knowledge-base documents (``docs/``, the default source
of Enterprise Search, and any folder config.yml names as a vector store's ``source``), with
their size and a view of each text document. Whoever may edit flows adds and removes them."""

from __future__ import annotations

import posixpath

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from apps.accounts.roles import Cap
from apps.projects import content
from apps.projects.access import assistant_view
from apps.projects.content.archives import UploadError, clean_path, is_archive
from apps.projects.models import AssistantFiles
from engine import formats


class DocumentForm(forms.Form):
    document = forms.FileField(
        label="Document",
        help_text="A text file (.txt, which Enterprise Search reads) or another document; a "
        "document of the same name is replaced.",
    )
    folder = forms.CharField(
        label="Folder", initial="docs", max_length=200, help_text="Where in the project it goes."
    )

    def __init__(self, *args, folders: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.folders = folders

    def clean(self):
        super().clean()
        data = self.cleaned_data
        upload, folder = data.get("document"), (data.get("folder") or "").strip("/")
        if upload is None or not folder:
            return data
        try:
            path = clean_path(f"{folder}/{posixpath.basename(upload.name)}")
        except UploadError as exc:
            raise forms.ValidationError(str(exc)) from None
        if not any(path.startswith(f"{f}/") for f in self.folders):
            raise forms.ValidationError(
                f"Put documents under {', '.join(f + '/' for f in self.folders)}: the folders "
                "the assistant's search reads."
            )
        if upload.size > formats.MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"{upload.name} is {upload.size} bytes; the limit is {formats.MAX_FILE_BYTES}."
            )
        data["content"] = upload.read()
        if is_archive(path, data["content"]):
            raise forms.ValidationError("Unpack the archive and add its documents one by one.")
        data["path"] = path
        return data


def _rows(documents: dict[str, str | bytes]) -> list[dict]:
    return [
        {
            "path": path,
            "size": len(data.encode("utf-8")) if isinstance(data, str) else len(data),
            "text": isinstance(data, str),
        }
        for path, data in documents.items()
    ]


@assistant_view(Cap.VIEW_FLOWS, write=Cap.EDIT_FLOWS)
def knowledge(request, assistant):
    documents = content.knowledge_documents(assistant)
    files, _ = AssistantFiles.objects.get_or_create(assistant=assistant)
    folders = content.knowledge_folders(assistant)
    form = DocumentForm(folders=folders)
    if request.method == "POST":
        if request.POST.get("remove"):
            path = request.POST["remove"]
            if path not in documents or not files.remove_kept_file(path):
                raise Http404("No such document.")
            messages.success(request, f"{path} removed.")
            return redirect("projects:knowledge", assistant.name)
        form = DocumentForm(request.POST, request.FILES, folders=folders)
        if form.is_valid():
            files.put_kept_file(form.cleaned_data["path"], form.cleaned_data["content"])
            messages.success(request, f"{form.cleaned_data['path']} saved.")
            return redirect("projects:knowledge", assistant.name)
    shown = request.GET.get("doc")
    if shown is not None and shown not in documents:
        raise Http404("No such document.")
    if shown is not None and request.GET.get("download"):
        return _download(shown, documents[shown])
    context = {
        "assistant": assistant,
        "rows": _rows(documents),
        "folders": folders,
        "shown": shown,
        "shown_text": documents[shown] if shown and isinstance(documents[shown], str) else None,
        "form": form,
    }
    return render(
        request,
        "projects/knowledge.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


def _download(path: str, data: str | bytes) -> HttpResponse:
    is_text = isinstance(data, str)
    response = HttpResponse(
        data.encode("utf-8") if isinstance(data, str) else data,
        content_type="text/plain; charset=utf-8" if is_text else "application/octet-stream",
    )
    name = posixpath.basename(path).replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
