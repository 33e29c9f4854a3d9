"""What each built-in channel's settings form asks for, in merchant words.

The keys are what the channel plugins read from their credentials (engagement/channels/*.py);
a merchant sees only the label and the help, in their language ("Mail server", not ``host``).
A setting a plugin reads but the form does not show (set through the API) is kept when the
form is saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from patron.i18n import N_


@dataclass(frozen=True)
class CredentialField:
    key: str
    label: str
    help: str = ""
    secret: bool = False
    kind: str = "text"  # text | number | flag | email


CHANNEL_FORMS: dict[str, tuple[CredentialField, ...]] = {
    "email": (
        CredentialField(
            "host", N_("Mail server"), N_("Your SMTP server's address, e.g. smtp.example.com.")
        ),
        CredentialField(
            "port",
            N_("Port"),
            N_("Usually 587 with STARTTLS, 465 with SSL, 25 without encryption."),
            kind="number",
        ),
        CredentialField(
            "username", N_("User name"), N_("The account that signs in to the server.")
        ),
        CredentialField("password", N_("Password"), N_("The account's password."), secret=True),
        CredentialField(
            "from_address",
            N_("Sender address"),
            N_("Members see messages from this address, e.g. hello@yourshop.com."),
            kind="email",
        ),
        CredentialField(
            "from_name",
            N_("Sender name"),
            N_("Shown beside the address; your shop's name if empty."),
        ),
        CredentialField(
            "starttls",
            N_("Use STARTTLS (encrypted connection)"),
            N_("Switch to an encrypted connection after connecting (port 587)."),
            kind="flag",
        ),
        CredentialField(
            "use_ssl",
            N_("Use SSL from the start"),
            N_("Encrypt from the first moment (port 465)."),
            kind="flag",
        ),
        CredentialField(
            "bounce_secret",
            N_("Bounce webhook secret"),
            N_("Shared with your mail provider, which signs bounce and complaint reports with it."),
            secret=True,
        ),
    ),
    "sms": (
        CredentialField(
            "account_sid",
            N_("Account ID"),
            N_("Your SMS provider's account ID (Twilio: Account SID)."),
        ),
        CredentialField(
            "auth_token",
            N_("Auth token"),
            N_("Signs the requests to your provider and its delivery reports."),
            secret=True,
        ),
        CredentialField(
            "from_number",
            N_("Sender number"),
            N_("The number texts come from, with the country code, e.g. +8613800138000."),
        ),
        CredentialField(
            "honours_idempotency_key",
            N_("Provider ignores repeated sends"),
            N_(
                "Only if your provider honours an Idempotency-Key, so a retry can never send twice."
            ),
            kind="flag",
        ),
    ),
    "whatsapp": (
        CredentialField(
            "phone_number_id",
            N_("Phone number ID"),
            N_("The sending number's ID, from WhatsApp Business Manager."),
        ),
        CredentialField(
            "access_token",
            N_("Access token"),
            N_("A permanent token for the WhatsApp Cloud API."),
            secret=True,
        ),
        CredentialField(
            "app_secret",
            N_("App secret"),
            N_("Checks that delivery reports really come from WhatsApp."),
            secret=True,
        ),
        CredentialField(
            "verify_token",
            N_("Webhook verify token"),
            N_("Any word; WhatsApp repeats it back when you register the webhook."),
            secret=True,
        ),
        CredentialField(
            "api_version",
            N_("API version"),
            N_("Leave empty for the version Patron was tested with."),
        ),
    ),
    "wechat": (
        CredentialField("appid", N_("AppID"), N_("Your official account's AppID.")),
        CredentialField(
            "secret", N_("AppSecret"), N_("Your official account's AppSecret."), secret=True
        ),
        CredentialField(
            "token",
            N_("Server token"),
            N_("The token set in your official account's server settings."),
            secret=True,
        ),
    ),
    "in_app": (),
}
# Channels that work with no settings at all (messages appear in the member portal).
NO_SETUP = frozenset({"in_app"})
