from django.urls import path

from apps.accounts import api, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    # Single sign-on (404 unless OIDC_RP_CLIENT_ID is set). The provider's redirect URI is
    # https://<studio>/oidc/callback/.
    path("oidc/authenticate/", views.oidc_login, name="oidc_login"),
    path("oidc/callback/", views.oidc_callback, name="oidc_callback"),
    path("account/password/", views.password_change, name="password_change"),
    path("account/password/done/", views.password_change_done, name="password_change_done"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:token_id>/revoke", views.token_revoke, name="token_revoke"),
    path("users/", views.user_list, name="user_list"),
    path("users/new", views.user_create, name="user_create"),
    path("users/<int:user_id>/", views.user_edit, name="user_edit"),
    path("users/lockouts/", views.lockouts, name="lockouts"),
]

# Studio's own sign-in realm, Keycloak's paths (included under /auth/realms/rasa-studio/).
realm_urlpatterns = [
    path(
        ".well-known/openid-configuration",
        api.openid_configuration,
        name="openid_configuration",
    ),
    path("protocol/openid-connect/token", api.token, name="token"),
    path("protocol/openid-connect/certs", api.certs, name="certs"),
]
