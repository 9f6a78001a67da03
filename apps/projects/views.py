"""The assistant pages: the list and creation of assistants, an assistant's overview, settings
(with import and export), config.yml and endpoints.yml, secrets, members, and deletion."""

import hashlib
import json

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.forms import AssistantGrantForm
from apps.accounts.models import AssistantRole, User
from apps.accounts.roles import ROLE_LABELS, Cap, Role
from apps.projects import content, imports, secrets, services
from apps.projects.access import (
    assistant_roles,
    assistant_view,
    authenticated_view,
    global_caps,
    global_view,
)
from apps.projects.content.archives import UploadError, read_files, zip_files
from apps.projects.dialogue import dialogue_of
from apps.projects.forms import (
    AssistantCreateForm,
    AssistantFileForm,
    AssistantSettingsForm,
    ConfirmNameForm,
    ImportForm,
    SecretForm,
    locate_upload,
)
from apps.projects.models import Assistant, AssistantFiles, AssistantSecret, ImportJob
from apps.projects.navigation import landing_url
from apps.projects.shortcuts import render_form
from apps.projects.upload_handlers import (
    UploadTooLarge,
    check_declared_length,
    check_refused,
    read_uploaded,
)
from engine import formats


@authenticated_view
def welcome(request):
    assistants = Assistant.objects.visible_to(request.user).select_related("created_by")
    rows = [
        {
            "assistant": a,
            "url": landing_url(request.user, a),
            "roles": sorted(r.label for r in assistant_roles(request.user, a)),
        }
        for a in assistants
    ]
    return render(request, "projects/welcome.html", {"rows": rows})


@global_view(Cap.CREATE_ASSISTANT)
def create(request):
    form = AssistantCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        assistant = services.create_assistant(
            created_by=request.user, **form.cleaned_data, starter_config=True
        )
        messages.success(request, f"Assistant {assistant.name} created.")
        return redirect(landing_url(request.user, assistant))
    return render(request, "projects/create.html", {"form": form})


@assistant_view(Cap.VIEW_ASSISTANT)
def open_assistant(request, assistant):
    return redirect(landing_url(request.user, assistant))


@assistant_view(Cap.VIEW_ASSISTANT)
def overview(request, assistant):
    roles = sorted(r.label for r in assistant_roles(request.user, assistant))
    context = {
        "assistant": assistant,
        "roles": roles,
        "dialogue": dialogue_of(content.export_project(assistant)),
    }
    return render(request, "projects/overview.html", context)


@assistant_view(Cap.MANAGE_SETTINGS)
def settings_page(request, assistant):
    form = AssistantSettingsForm(request.POST or None, instance=assistant)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("projects:settings", assistant.name)
    return render(
        request, "projects/settings.html", _settings_context(request, assistant, form=form)
    )


@assistant_view(Cap.MANAGE_SETTINGS)
def assistant_files(request, assistant):
    """The config.yml and endpoints.yml editor (?file=), checked before it is saved."""
    files, _ = AssistantFiles.objects.get_or_create(assistant=assistant)
    which = request.GET.get("file") or "config.yml"
    if which not in ("config.yml", "endpoints.yml"):
        which = "config.yml"
    column = "config_yml" if which == "config.yml" else "endpoints_yml"
    form = AssistantFileForm(
        request.POST or None,
        file_name=which,
        env_names=secrets.allowed_env_names(assistant),
        assistant=assistant,
        stored=getattr(files, column),
        initial={"text": getattr(files, column)},
    )
    if request.method == "POST" and form.is_valid():
        setattr(files, column, form.cleaned_data["text"])
        files.save(update_fields=[column, "updated_at"])
        messages.success(request, f"{which} saved.")
        for warning in form.warnings:
            messages.warning(request, str(warning.message))
        return redirect(f"{request.path}?file={which}")
    return render_form(
        request,
        "projects/assistant_files.html",
        {"assistant": assistant, "form": form, "which": which},
    )


@assistant_view(Cap.MANAGE_SETTINGS)
def delete(request, assistant):
    form = ConfirmNameForm(
        request.POST or None,
        name=assistant.name,
        label="Type the assistant's name to confirm",
        mismatch=f"That is not the name of this assistant: type {assistant.name} exactly.",
        max_length=200,
    )
    if request.method == "POST" and form.is_valid():
        name = assistant.name
        services.delete_assistant(assistant)
        messages.success(request, f"Assistant {name} deleted.")
        return redirect("projects:welcome")
    return render(request, "projects/delete.html", {"assistant": assistant, "form": form})


def _global_members() -> list[tuple[User, list[str]]]:
    """Active accounts with a global role (which applies to every assistant), and the roles."""
    holders = (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name__in=ROLE_LABELS.values()) | Q(is_superuser=True))
        .distinct()
        .order_by("username")
        .prefetch_related("groups")
    )
    rows = []
    for user in holders:
        roles = {Role.from_label(group.name) for group in user.groups.all()} - {None}
        if user.is_superuser:
            roles.add(Role.SUPERUSER)
        rows.append((user, [role.label for role in Role if role in roles]))
    return rows


@assistant_view(Cap.MANAGE_USERS)
def members(request, assistant):
    """Everyone with access to the assistant: global role holders, then the grants on it.
    Accounts without access are not listed (nor offered) unless the viewer may manage every
    account anyway."""
    sees_everyone = Cap.MANAGE_USERS in global_caps(request.user)
    form = AssistantGrantForm(request.POST or None, assistant=assistant, suggest=sees_everyone)
    if request.method == "POST" and form.is_valid():
        grant = form.save()
        messages.success(request, f"{grant.user.username} is now {Role(grant.role).label} here.")
        return redirect("projects:members", assistant.name)
    grants = assistant.role_grants.select_related("user").order_by("user__username", "role")
    return render_form(
        request,
        "projects/members.html",
        {
            "assistant": assistant,
            "form": form,
            "grants": grants,
            "global_members": _global_members(),
            "sees_everyone": sees_everyone,
        },
    )


@assistant_view(Cap.MANAGE_USERS)
@require_POST
def revoke_member(request, assistant, grant_id):
    grant = get_object_or_404(AssistantRole, pk=grant_id, assistant=assistant)
    grant.delete()
    messages.success(request, f"Removed {Role(grant.role).label} from {grant.user.username}.")
    return redirect("projects:members", assistant.name)


@assistant_view(Cap.MANAGE_SETTINGS)
def secrets_page(request, assistant):
    """Named values for ${NAME} in endpoints.yml, passed to this assistant's bots only."""
    form = SecretForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        secrets.set_secret(assistant, name, form.cleaned_data["value"], request.user)
        messages.success(request, f"Secret {name} saved. Bots started from now on get it.")
        return redirect("projects:secrets", assistant.name)
    return render_form(
        request,
        "projects/secrets.html",
        {
            "assistant": assistant,
            "form": form,
            "secrets": assistant.secrets.select_related("updated_by"),
            "operator_names": sorted(settings.STUDIO_BOT_ENV),
        },
    )


@assistant_view(Cap.MANAGE_SETTINGS)
@require_POST
def delete_secret(request, assistant, secret_id):
    secret = get_object_or_404(AssistantSecret, pk=secret_id, assistant=assistant)
    secret.delete()
    messages.success(request, f"Secret {secret.name} deleted.")
    return redirect("projects:secrets", assistant.name)


def _settings_context(request, assistant, **extra):
    return {
        "assistant": assistant,
        "form": AssistantSettingsForm(instance=assistant),
        "import_form": ImportForm(),
        **extra,
    }


@assistant_view(Cap.MANAGE_SETTINGS)
@require_POST
def import_content(request, assistant):
    """Update from an upload at once (small), queue it (large), or, for a full replace, hold
    it until the person confirms the list of what it deletes."""
    form = ImportForm(request.POST, request.FILES)
    problems: list = []
    code = 400
    try:
        check_refused(request)
        check_declared_length(request)
        if form.is_valid():
            located = locate_upload(
                read_files(read_uploaded(form.cleaned_data["files"])), form.cleaned_data
            )
            files = located.files
            partial = form.cleaned_data["partial"]
            uploaded = formats.load_project_files(files)
            left_out = located.left_out_warning()
            notes = [left_out] if left_out is not None else []
            uploaded.load_warnings.extend(notes)
            if not uploaded.rasa_files:
                raise formats.FormatError([content.no_rasa_files_problem(uploaded)])
            items = imports.item_count(uploaded)
            if not partial:
                errors = [p for p in formats.validate_project(uploaded) if p.severity == "error"]
                if errors:
                    raise formats.FormatError(errors)
                job = imports.create_job(
                    assistant,
                    files,
                    partial=False,
                    user=request.user,
                    items=items,
                    removes=imports.removed_by_replace(assistant, uploaded),
                    confirm=True,
                    notes=notes,
                )
                return redirect("projects:import_job", assistant.name, job.pk)
            if imports.too_big_for_the_request(imports.byte_count(files), items):
                job = imports.create_job(
                    assistant, files, partial=True, user=request.user, items=items, notes=notes
                )
                messages.info(request, "The upload is large: it is imported in the background.")
                return redirect("projects:import_job", assistant.name, job.pk)
            report = content.import_files(assistant, files, partial=True, uploaded=uploaded)
            _report_messages(request, report.counts, [str(w) for w in report.warnings])
            return redirect("projects:settings", assistant.name)
    except UploadTooLarge as exc:
        problems, code = [str(exc)], 413
    except UploadError as exc:
        problems = [str(exc)]
    except formats.FormatError as exc:
        problems = [str(p) for p in exc.problems]
    context = _settings_context(request, assistant, import_form=form, import_problems=problems)
    return render(request, "projects/settings.html", context, status=code)


def _report_messages(request, counts: dict, warnings: list[str]) -> None:
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    messages.success(request, f"Imported: {summary}.")
    for warning in warnings[:20]:
        messages.warning(request, warning)


def _digest(removes: dict) -> str:
    return hashlib.sha256(json.dumps(removes, sort_keys=True).encode()).hexdigest()


@assistant_view(Cap.MANAGE_SETTINGS)
def import_job(request, assistant, import_id):
    """An import's page: the confirmation of a full replace (what it deletes), or the status,
    progress and log of a background import."""
    job = get_object_or_404(ImportJob, pk=import_id, assistant=assistant)
    if request.method == "POST":
        action = request.POST.get("action")
        if job.status != ImportJob.Status.AWAITING_CONFIRMATION or action not in (
            "confirm",
            "cancel",
        ):
            messages.error(request, "This import is not waiting for a confirmation.")
            return redirect("projects:import_job", assistant.name, job.pk)
        if action == "cancel":
            job.status = ImportJob.Status.CANCELLED
            job.upload = b""
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "upload", "finished_at"])
            messages.info(request, "The import was cancelled; nothing was changed.")
            return redirect("projects:settings", assistant.name)
        removes = imports.removed_by_replace(assistant, imports.load_job(job))
        if removes != job.removes or request.POST.get("removes") != _digest(job.removes):
            job.removes = removes
            job.save(update_fields=["removes"])
            messages.warning(
                request, "The assistant changed since the upload: check what is deleted again."
            )
            return redirect("projects:import_job", assistant.name, job.pk)
        if job.background:
            imports.queue(job)
            return redirect("projects:import_job", assistant.name, job.pk)
        claimed = imports.queue_and_claim(job)
        if claimed is not None:
            job = imports.run(claimed)
            if job.status == ImportJob.Status.DONE:
                warnings = [imports.problem_text(w) for w in job.warnings]
                _report_messages(request, job.imported, warnings)
                return redirect("projects:settings", assistant.name)
        return redirect("projects:import_job", assistant.name, job.pk)
    context = {
        "assistant": assistant,
        "job": job,
        "removes_digest": _digest(job.removes),
        "removes_total": sum(len(names) for names in job.removes.values()),
        "errors": [imports.problem_text(p) for p in job.errors],
        "warnings": [imports.problem_text(p) for p in job.warnings],
    }
    return render(request, "projects/import_job.html", context)


@assistant_view(Cap.EXPORT)
def export_zip(request, assistant):
    response = HttpResponse(
        zip_files(content.export_archive_files(assistant)), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{assistant.name}.zip"'
    return response
