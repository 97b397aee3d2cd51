"""`manage.py reindex [--tenant SLUG] [--bot NAME_OR_ID] [--vectors-from postgres|qdrant]`

Rebuilds the knowledge index (the configured backend, settings.KNOWLEDGE_INDEX) from the chunk rows: after
switching backends, or to recover an index. Dense vectors are reused from the index that holds them
(`--vectors-from`, default the configured one) and embedded through the bot's provider only where missing.
Shows a progress bar over chunks; exits non-zero when a source failed.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum
from django.test import override_settings
from tqdm import tqdm

from bots.management.lookup import command_bot
from minirag.integrations.embeddings import EmbeddingError
from minirag.tenancy import tenant_context, tenants_all
from sources.index import KnowledgeIndexError, get_index
from sources.models import Source
from sources.pipeline.ingest import IngestError
from sources.pipeline.reindex import rebuild_source


class Command(BaseCommand):
    help = "Rebuild the knowledge index from the chunk rows (all tenants, one tenant, or one bot)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="tenant slug (default: every tenant)")
        parser.add_argument("--bot", help="bot profile name or id (needs --tenant)")
        parser.add_argument(
            "--vectors-from",
            choices=["postgres", "qdrant"],
            help="read existing dense vectors from this backend (default: the configured one)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")

    def handle(self, *args, **options):
        if options["bot"] and not options["tenant"]:
            raise CommandError("--bot needs --tenant")
        tenants = tenants_all()
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {options['tenant']!r}")
        vectors_from = None
        if options["vectors_from"]:
            with override_settings(KNOWLEDGE_INDEX=options["vectors_from"]):
                vectors_from = get_index()
        self.stdout.write(f"Rebuilding the {get_index().name} index")
        failures: list[str] = []
        total = 0
        for tenant in tenants:
            with tenant_context(tenant):
                sources = Source.objects.filter(is_active=True, current_document__isnull=False).select_related(
                    "bot_profile"
                )
                if options["bot"]:
                    sources = sources.filter(bot_profile=command_bot(options["bot"]))
                expected = sources.aggregate(n=Sum("chunk_count"))["n"] or 0
                bar = tqdm(total=expected, desc=tenant.slug[:30], unit="chunk", disable=options["no_progress"])
                for source in sources.order_by("created_at", "id"):
                    try:
                        done = rebuild_source(source, vectors_from=vectors_from)
                    except (KnowledgeIndexError, EmbeddingError, IngestError) as error:
                        failures.append(f"{tenant.slug}/{source.name}: {error}")
                        continue
                    total += done
                    bar.update(done)
                bar.close()
        self.stdout.write(f"Reindexed {total} chunk(s).")
        for failure in failures:
            self.stderr.write(self.style.ERROR(f"FAILED {failure}"))
        if failures:
            raise SystemExit(1)
