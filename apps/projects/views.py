from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.access import (
    assistant_caps,
    assistant_roles,
    assistant_view,
    authenticated_view,
    global_caps,
    global_view,
)
from apps.accounts.forms import AssistantGrantForm
from apps.accounts.models import AssistantRole, User
from apps.accounts.roles import ROLE_LABELS, Cap, Role
from apps.projects import content, secrets, services
from apps.projects.files import zip_files
from apps.projects.forms import (
    AssistantCreateForm,
    AssistantSettingsForm,
    DeleteAssistantForm,
    ImportForm,
    SecretForm,
)
from apps.projects.models import Assistant, AssistantSecret
from apps.projects.navigation import landing_url
from apps.projects.uploads import UploadError, read_files
from engine.formats import FormatError


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
        assistant = services.create_assistant(created_by=request.user, **form.cleaned_data)
        messages.success(request, f"Assistant {assistant.name} created.")
        return redirect(landing_url(request.user, assistant))
    return render(request, "projects/create.html", {"form": form})


@assistant_view(Cap.VIEW_ASSISTANT)
def open_assistant(request, assistant):
    return redirect(landing_url(request.user, assistant))


@assistant_view(Cap.VIEW_ASSISTANT)
def overview(request, assistant):
    roles = sorted(r.label for r in assistant_roles(request.user, assistant))
    return render(request, "projects/overview.html", {"assistant": assistant, "roles": roles})


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
def delete(request, assistant):
    form = DeleteAssistantForm(request.POST or None, assistant=assistant)
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
    return render(
        request,
        "projects/members.html",
        {
            "assistant": assistant,
            "form": form,
            "grants": grants,
            "global_members": _global_members(),
            "sees_everyone": sees_everyone,
        },
        status=400 if request.method == "POST" else 200,
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
    return render(
        request,
        "projects/secrets.html",
        {
            "assistant": assistant,
            "form": form,
            "secrets": assistant.secrets.select_related("updated_by"),
            "operator_names": sorted(settings.STUDIO_BOT_ENV),
        },
        status=400 if request.method == "POST" else 200,
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
        "can_export": Cap.EXPORT in assistant_caps(request.user, assistant),
        **extra,
    }


@assistant_view(Cap.MANAGE_SETTINGS)
@require_POST
def import_content(request, assistant):
    form = ImportForm(request.POST, request.FILES)
    problems: list = []
    if form.is_valid():
        uploads = [(f.name, f.read()) for f in form.cleaned_data["files"]]
        try:
            report = content.import_files(
                assistant, read_files(uploads), partial=form.cleaned_data["partial"]
            )
        except UploadError as exc:
            problems = [str(exc)]
        except FormatError as exc:
            problems = [str(p) for p in exc.problems]
        else:
            summary = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
            messages.success(request, f"Imported: {summary}.")
            for warning in report.warnings[:20]:
                messages.warning(request, str(warning))
            return redirect("projects:settings", assistant.name)
    context = _settings_context(request, assistant, import_form=form, import_problems=problems)
    return render(request, "projects/settings.html", context, status=400)


@assistant_view(Cap.EXPORT)
def export_zip(request, assistant):
    response = HttpResponse(
        zip_files(content.export_files(assistant)), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{assistant.name}.zip"'
    return response
