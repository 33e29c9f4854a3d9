"""What each built-in payment provider's settings form asks for, in merchant words.

The keys are what the provider plugins read (payments/providers/*.py); secrets are write-only
on the page, as the message settings' are (ADR 0861)."""

from __future__ import annotations

from patron.i18n import N_
from patron.web.dashboard.channel_forms import CredentialField

PAYMENT_FORMS: dict[str, tuple[CredentialField, ...]] = {
    "wechat_pay": (
        CredentialField("mchid", N_("Merchant number"), N_("Your WeChat Pay merchant number.")),
        CredentialField(
            "appid", N_("App ID"), N_("The official account or mini program members pay in.")
        ),
        CredentialField(
            "serial_no",
            N_("API certificate serial number"),
            N_("Shown beside your API certificate in the WeChat Pay merchant platform."),
        ),
        CredentialField(
            "private_key",
            N_("API private key"),
            N_("The private key of your API certificate (apiclient_key.pem), pasted whole."),
            secret=True,
        ),
        CredentialField(
            "api_v3_key",
            N_("APIv3 key"),
            N_("The 32-character key you set in the merchant platform."),
            secret=True,
        ),
        CredentialField(
            "platform_public_key",
            N_("WeChat Pay public key"),
            N_(
                "WeChat Pay's public key or platform certificate: it proves a payment notice "
                "came from WeChat Pay."
            ),
        ),
    ),
    "alipay": (
        CredentialField("app_id", N_("App ID"), N_("Your Alipay app's ID.")),
        CredentialField(
            "private_key",
            N_("App private key"),
            N_("The private key you made for the app (RSA2), pasted whole."),
            secret=True,
        ),
        CredentialField(
            "alipay_public_key",
            N_("Alipay public key"),
            N_(
                "Alipay's public key from the app's settings: it proves a payment notice came "
                "from Alipay."
            ),
        ),
    ),
    "stripe": (
        CredentialField(
            "publishable_key", N_("Publishable key"), N_("Starts with pk_. Shown to members.")
        ),
        CredentialField("secret_key", N_("Secret key"), N_("Starts with sk_ or rk_."), secret=True),
        CredentialField(
            "webhook_secret",
            N_("Webhook signing secret"),
            N_(
                "Starts with whsec_, shown when you add the address below as a webhook "
                "endpoint for the payment_intent.succeeded event."
            ),
            secret=True,
        ),
    ),
}
