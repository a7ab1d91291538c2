"""Reports to identity, sent by this service's worker."""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.tasks import task
from django.utils.module_loading import import_string

from bibid.common import requestid

from . import clients

log = logging.getLogger(__name__)


@task
def send_report(client_key: str, report: dict) -> str:
    # The reading service's loader ignores the key; the library's takes the library code.
    config = import_string(settings.BIBID_RP_CLIENT_LOADER)(client_key)
    if config is None:
        return "unknown client"
    try:
        response = requests.post(
            clients.identity_url() + "/o/service-events/",
            json=report,
            timeout=5,
            auth=(config.client_id, config.client_secret),
            allow_redirects=False,
            headers=requestid.outgoing_headers(),
        )
    except requests.RequestException as exc:
        log.warning("report %s not delivered: %s", report.get("kind"), exc)
        return f"failed: {type(exc).__name__}"
    return f"HTTP {response.status_code}"
