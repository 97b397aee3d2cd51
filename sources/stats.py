"""What the sources app counts for statistics and quotas: active sources, stored chunks and uploaded bytes.
The size counter is registered with usage (for the `sources`, `chunks` and `upload_bytes` quotas) from
SourcesConfig.ready()."""

from collections.abc import Sequence

from django.db import connection

from sources.models import Source, SourceType

SIZE_QUOTAS = ("sources", "chunks", "upload_bytes")


def active_source_count() -> int:
    """Active sources, parents and children (soft-deleted ones excluded)."""
    return Source.objects.filter(is_active=True).count()


def sources_quota_usage(quotas: Sequence[str]) -> dict[str, int]:
    """usage's size counter: the current use of the asked `sources`, `chunks`, `upload_bytes` quotas, one query."""
    columns = {
        "sources": "count(*)",
        "chunks": "coalesce(sum(chunk_count), 0)",
        # file_size is written by the upload service; anything else in a config is not counted
        "upload_bytes": "coalesce(sum(CASE WHEN source_type = %s AND (config ->> 'file_size') ~ '^[0-9]{1,18}$' "
        "THEN (config ->> 'file_size')::bigint END), 0)",
    }
    wanted = [name for name in columns if name in set(quotas)]
    if not wanted:
        return {}
    params = [SourceType.UPLOAD] if "upload_bytes" in wanted else []
    table = connection.ops.quote_name(Source._meta.db_table)
    with connection.cursor() as cursor:
        # an aggregate: exactly one row, even with no active source
        cursor.execute(f"SELECT {', '.join(columns[name] for name in wanted)} FROM {table} WHERE is_active", params)
        row = cursor.fetchone()
    return {name: int(value or 0) for name, value in zip(wanted, row, strict=True)}
