from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from apps.accounts.access import authenticated_view, global_view, public_view
from apps.accounts.forms import ApiTokenForm, UserCreateForm, UserEditForm
from apps.accounts.models import ApiToken, User
from apps.accounts.roles import Cap

login = public_view(
    auth_views.LoginView.as_view(
        template_name="accounts/login.html", redirect_authenticated_user=True
    )
)
logout = public_view(auth_views.LogoutView.as_view())
password_change = authenticated_view(
    auth_views.PasswordChangeView.as_view(
        template_name="accounts/password_change.html",
        success_url=reverse_lazy("accounts:password_change_done"),
    )
)
password_change_done = authenticated_view(
    auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html")
)


@global_view(Cap.MANAGE_USERS)
def user_list(request):
    users = User.objects.prefetch_related("groups", "assistant_roles__assistant")
    return render(request, "accounts/user_list.html", {"users": users})


@global_view(Cap.MANAGE_USERS)
def user_create(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        messages.success(request, f"User {user.username} created.")
        return redirect("accounts:user_edit", user.pk)
    return render(request, "accounts/user_create.html", {"form": form})


@global_view(Cap.MANAGE_USERS)
def user_edit(request, user_id):
    subject = get_object_or_404(User, pk=user_id)
    form = UserEditForm(request.POST or None, instance=subject, acting_user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"User {subject.username} saved.")
        return redirect("accounts:user_edit", subject.pk)
    grants = subject.assistant_roles.select_related("assistant")
    return render(
        request, "accounts/user_edit.html", {"subject": subject, "form": form, "grants": grants}
    )


@authenticated_view
def tokens(request):
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        _, secret = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = ApiTokenForm()
    rows = request.user.api_tokens.active()
    return render(request, "accounts/tokens.html", {"form": form, "tokens": rows, "secret": secret})


@authenticated_view
@require_POST
def token_revoke(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke()
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("accounts:tokens")
