"""The Stories page: the assistant's stories and rules (kept as their files, exported
unchanged), each with its file and line, and a view of each file with numbered lines that the
"used in" chips of intents, responses, actions and slots link to."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from apps.accounts.roles import Cap
from apps.projects.access import assistant_view
from apps.projects.models import AssistantFiles
from engine import formats


@assistant_view(Cap.VIEW_FLOWS)
def stories(request, assistant):
    files = AssistantFiles.objects.filter(assistant=assistant).only("other_files").first()
    kept = files.other_files if files is not None else {}
    data = formats.load_stories(kept)
    shown = request.GET.get("file")
    if shown is not None and shown not in data.files:
        raise Http404("No such stories file.")
    context = {
        "assistant": assistant,
        "blocks": sorted([*data.stories, *data.rules], key=lambda s: (s.file, s.line or 0, s.name)),
        "files": data.files,
        "shown": shown,
        "lines": kept[shown].splitlines() if shown else [],
    }
    return render(request, "projects/stories.html", context)
