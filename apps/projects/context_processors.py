"""What every page's template gets: the navigation, and `caps`, the user's capabilities on the
request's assistant (set by the access helpers; ask ``{% if caps.edit_flows %}``)."""

from apps.accounts.roles import Cap
from apps.projects.access import Caps, global_caps
from apps.projects.models import Assistant
from apps.projects.navigation import pages_for

SWITCHER_LIMIT = 50


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    assistant = getattr(request, "assistant", None)
    caps = global_caps(user)
    return {
        "current_assistant": assistant,
        "caps": getattr(request, "caps", None) or Caps(),
        "assistant_pages": pages_for(user, assistant) if assistant else [],
        "switcher_assistants": Assistant.objects.visible_to(user).only("name")[:SWITCHER_LIMIT],
        "can_manage_users": Cap.MANAGE_USERS in caps,
        "can_create_assistant": Cap.CREATE_ASSISTANT in caps,
    }
