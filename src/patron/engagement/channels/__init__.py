"""Channel plugins: the registry.

Channels are found under the ``patron.channels`` entry point group (see pyproject.toml), so a
package can add one without touching Patron. The built-in ones are also listed here, so a
checkout that has not been re-installed (no entry point metadata yet) still finds them.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from patron.core.errors import InvalidInput
from patron.engagement.channels.base import Channel
from patron.engagement.channels.email import EmailChannel
from patron.engagement.channels.inbox import InboxChannel
from patron.engagement.channels.sms import SmsChannel
from patron.engagement.channels.wechat import WeChatChannel
from patron.engagement.channels.whatsapp import WhatsAppChannel

log = logging.getLogger("patron.engagement.channels")

BUILTIN: dict[str, type] = {
    "email": EmailChannel,
    "sms": SmsChannel,
    "whatsapp": WhatsAppChannel,
    "wechat": WeChatChannel,
    "in_app": InboxChannel,
}


@lru_cache(maxsize=1)
def registry() -> dict[str, Channel]:
    """Every channel by name: entry points first, then the built-in fallback."""
    found: dict[str, Channel] = {}
    for ep in entry_points(group="patron.channels"):
        try:
            channel = ep.load()()
        except Exception:  # a broken third-party plugin must not stop the built-in ones
            log.exception("channel plugin failed to load", extra={"entry_point": ep.name})
            continue
        if isinstance(channel, Channel):
            found[ep.name] = channel
    for name, cls in BUILTIN.items():
        found.setdefault(name, cls())
    return found


def get_channel(name: str) -> Channel:
    """The channel called ``name`` (422 ``unknown_channel`` otherwise)."""
    channel = registry().get(name)
    if channel is None:
        raise InvalidInput(f"unknown channel '{name}'", code="unknown_channel")
    return channel


def channel_names() -> list[str]:
    return sorted(registry())
