from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from apps.accounts import lockout, oidc
from apps.accounts.forms import ApiTokenForm, UserCreateForm, UserEditForm
from apps.accounts.models import ApiToken, User
from apps.accounts.roles import Cap
from apps.projects.access import authenticated_view, global_view, public_view


class LoginView(auth_views.LoginView):
    """The password form and, when it is configured, the single sign-on button. With
    OIDC_LOCAL_LOGIN=false only the button is left."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            oidc_enabled=settings.OIDC_ENABLED, local_login=settings.OIDC_LOCAL_LOGIN, **kwargs
        )

    def post(self, request, *args, **kwargs):
        if not settings.OIDC_LOCAL_LOGIN:
            raise PermissionDenied("Password logins are turned off: use single sign-on.")
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """Logs out of Studio and, when the provider has a logout endpoint, out of it too."""

    def post(self, request, *args, **kwargs):
        provider_logout = oidc.provider_logout_url(request)  # before the session is flushed
        response = super().post(request, *args, **kwargs)
        return redirect(provider_logout) if provider_logout else response


def _when_oidc_enabled(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        return view(request, *args, **kwargs)

    return wrapper


class OIDCCallbackView(OIDCAuthenticationCallbackView):
    """The provider sends people back here; a failure returns them to the login page."""

    def login_failure(self):
        reason = getattr(self.request, "sso_refusal", None)
        messages.error(self.request, reason or "Single sign-on did not log you in. Try again.")
        return redirect(settings.LOGIN_URL)


login = public_view(LoginView.as_view())
logout = public_view(LogoutView.as_view())
oidc_login = public_view(_when_oidc_enabled(OIDCAuthenticationRequestView.as_view()))
oidc_callback = public_view(_when_oidc_enabled(OIDCCallbackView.as_view()))
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
    locked_until = lockout.locked_until(username=subject.username)
    return render(
        request,
        "accounts/user_edit.html",
        {"subject": subject, "form": form, "grants": grants, "locked_until": locked_until},
    )


@global_view(Cap.MANAGE_USERS)
def lockouts(request):
    """Accounts and addresses locked after too many failed logins or API tokens; POST
    kind=account|address and value=<username|address> unlocks one."""
    if request.method == "POST":
        kind, value = request.POST.get("kind", ""), request.POST.get("value", "").strip()
        if kind == "account" and value:
            lockout.unlock(username=value)
            messages.success(request, f"Account {value} unlocked: it may log in again.")
        elif kind == "address" and value:
            lockout.unlock(address=value)
            messages.success(request, f"Address {value} unlocked.")
        else:
            messages.error(request, "Say what to unlock: kind 'account' or 'address', and a value.")
        return redirect("accounts:lockouts")
    return render(
        request,
        "accounts/lockouts.html",
        {
            "lockouts": lockout.current_lockouts(),
            "limit": settings.LOGIN_FAILURE_LIMIT,
            "cool_off": settings.LOGIN_COOLOFF_MINUTES,
        },
    )


# The page shows a new token's secret once: never kept by a browser or proxy cache.
@never_cache
@authenticated_view
def tokens(request):
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        _, secret = ApiToken.issue(
            request.user, form.cleaned_data["name"], expires_in=form.cleaned_data["expires_in"]
        )
        form = ApiTokenForm()
    rows = request.user.api_tokens.active()
    return render(request, "accounts/tokens.html", {"form": form, "tokens": rows, "secret": secret})


@never_cache
@authenticated_view
@require_POST
def token_revoke(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke()
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("accounts:tokens")
