"""State changes the operator console makes. Each one goes through the owning app's service."""

from dataclasses import dataclass, field

from minirag.errors import DomainError
from minirag.tenancy import tenant_context
from tenants.models import Tenant


@dataclass
class RetryResult:
    queued: int = 0
    refused: list[str] = field(default_factory=list)  # "name: reason"


def console_reingest_sources(
    *, tenant: Tenant, source_ids: list[str] | None = None, failed_only: bool = False
) -> RetryResult:
    """Queue ingestion (trigger "admin") of the given sources of `tenant`, or of all its failed ones.

    Runs in the tenant's schema; sources the ingest service refuses (inactive, busy) are reported, not raised.
    """
    from sources.models import Source, SourceStatus
    from sources.services import source_ingest

    result = RetryResult()
    with tenant_context(tenant):
        sources = Source.objects.filter(is_active=True)
        if source_ids is not None:
            sources = sources.filter(pk__in=source_ids)
        if failed_only:
            sources = sources.filter(status=SourceStatus.ERROR)
        for source in sources.order_by("created_at"):
            try:
                source_ingest(source=source, trigger="admin")
                result.queued += 1
            except DomainError as error:
                result.refused.append(f"{source.name}: {error.detail}")
    return result


def console_tenant_deactivate(*, tenant: Tenant) -> Tenant:
    """Deactivate the tenant: its API tokens and JWTs stop working on their next request."""
    from tenants.services import tenant_set_active

    return tenant_set_active(tenant=tenant, is_active=False)
