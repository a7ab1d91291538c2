"""The nightly full push: every linked customer's authorization, through bulk authorize."""

from __future__ import annotations

from collections.abc import Callable

from bibid.common import metrics
from bibid.library.customers.models import Customer
from bibid.library.tenants.models import Library

from .identity import IdentityClient
from .links import forget_links
from .pushes import payload_for

BATCH = 5000


def sync(
    library: Library,
    *,
    progress: Callable[[int], None] | None = None,
    client: IdentityClient | None = None,
) -> dict[str, int]:
    """Push all linked customers of a library; a customer the login service no longer has
    a link for loses its local link. Each item carries the customer's version, so a sync
    that read a customer before a newer single push arrived never overwrites it ("stale").

    `repaired` counts the differences the sync found and mended: customers whose data or
    rights at the login service were not what the library holds ("updated"), and local
    links the login service no longer has ("not_linked")."""
    client = client or IdentityClient.for_library(library)
    client.library_settings_update(list(library.self_service_flows))
    counts = {"updated": 0, "unchanged": 0, "stale": 0, "not_linked": 0}
    linked = (
        Customer.objects.filter(library=library, account_id__isnull=False)
        .order_by("pk")
        .prefetch_related("memberships__subscription__type")
    )
    batch: list[Customer] = []

    def send() -> None:
        items = [{"customer_ref": c.card_number, **payload_for(c)} for c in batch]
        answer = client.authorizations_bulk(items)
        for key, value in answer["counts"].items():
            counts[key] = counts.get(key, 0) + value
        gone = [r["customer_ref"] for r in answer["results"] if r["result"] == "not_linked"]
        if gone:
            forget_links(library, gone)
        if progress:
            progress(len(batch))
        batch.clear()

    for customer in linked.iterator(chunk_size=1000):
        batch.append(customer)
        if len(batch) == BATCH:
            send()
    if batch:
        send()
    counts["repaired"] = counts["updated"] + counts["not_linked"]
    if counts["updated"]:
        metrics.REPAIRS.labels(via="sync", kind="authorization").inc(counts["updated"])
    if counts["not_linked"]:
        metrics.REPAIRS.labels(via="sync", kind="link_removed").inc(counts["not_linked"])
    return counts
