"""The push webhook: a delivery from GitHub (``X-Hub-Signature-256``, an HMAC of the body) or
GitLab (``X-Gitlab-Token``), verified against ``content.webhook_secret``, asks for a sync; the
scheduler runs it (:mod:`.schedule`). Anything unsigned or wrongly signed is refused, with
nothing done."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from wod.context import AppContext
from wod.errors import NotAuthenticated
from wod.services.content.schedule import request_sync


def verify_delivery(secret: str | None, headers: Mapping[str, str], body: bytes) -> str:
    """The provider whose valid signature the delivery carries; :class:`NotAuthenticated`
    for anything else (no secret configured included)."""
    if not secret:
        raise NotAuthenticated("The content webhook is not configured (content.webhook_secret).")
    signature = headers.get("x-hub-signature-256")
    if signature is not None:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(signature.strip(), expected):
            return "github"
        raise NotAuthenticated("The delivery's X-Hub-Signature-256 does not match the secret.")
    token = headers.get("x-gitlab-token")
    if token is not None:
        if hmac.compare_digest(token.encode(), secret.encode()):
            return "gitlab"
        raise NotAuthenticated("The delivery's X-Gitlab-Token does not match the secret.")
    raise NotAuthenticated("The delivery is not signed (X-Hub-Signature-256 or X-Gitlab-Token).")


def receive_delivery(ctx: AppContext, headers: Mapping[str, str], body: bytes) -> str:
    """Verify a webhook delivery and ask for a sync; the provider."""
    secret = ctx.settings.content.webhook_secret
    provider = verify_delivery(secret.get_secret_value() if secret else None, headers, body)
    request_sync(ctx)
    return provider
