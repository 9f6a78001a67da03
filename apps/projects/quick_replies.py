"""What a user message shows in a conversation view (the Try page's inspector, the
Conversations page): a quick-reply click shows the title of the button, not its payload."""

from __future__ import annotations


def shown_user_text(user_event: dict, previous_bot_events: list[dict]) -> str:
    """What the user's bubble says: a quick-reply click shows the button's title, not the
    payload it sent. The title is the message's ``metadata.button_title`` when the relay put it
    there, else the title of the button, in the bot messages just before, with that payload."""
    text = user_event.get("text") or ""
    metadata = user_event.get("metadata")
    title = metadata.get("button_title") if isinstance(metadata, dict) else None
    if isinstance(title, str) and title.strip():
        return title
    for bot_event in reversed(previous_bot_events):
        data = bot_event.get("data") if isinstance(bot_event, dict) else None
        buttons = data.get("buttons") if isinstance(data, dict) else None
        for button in buttons if isinstance(buttons, list) else []:
            if (
                isinstance(button, dict)
                and button.get("payload") == text
                and isinstance(button.get("title"), str)
                and button["title"].strip()
            ):
                return button["title"]
    return text
