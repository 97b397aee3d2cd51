"""`manage.py evaluate --bot NAME_OR_ID --file questions.jsonl [--tenant SLUG] [--top-k 10] [--output report.json]`

Runs a labelled-question file (JSONL; format in chat/evaluation.py) through the bot's real retrieval and
answer path in this process, with a progress bar, prints the metrics and writes the JSON report. The run is
stored like the console's (Chat › Evaluation runs), so its report can be read there too. `--no-answers`
scores retrieval only (no answer is generated: no LLM calls). `--tenant` may be left out when there is only
one tenant.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bots.management.lookup import command_bot
from chat import evaluation
from chat.models import EvaluationStatus
from minirag.errors import DomainError
from minirag.tenancy import tenant_context, tenants_all
from tenants.models import Tenant


def _tenant(slug: str | None) -> Tenant:
    tenants = tenants_all()
    if slug:
        tenant = tenants.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {slug!r}")
        return tenant
    only = list(tenants[:2])
    if len(only) != 1:
        raise CommandError("Give --tenant <slug>" if only else "There are no tenants yet")
    return only[0]


def _number(value) -> str:
    return "—" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = "Evaluate a bot on labelled questions (JSONL): Recall@5/10, MRR@10, nDCG@10, answer hits, no-answers."

    def add_arguments(self, parser):
        parser.add_argument("--bot", required=True, help="bot profile name or id")
        parser.add_argument("--file", required=True, help="labelled questions, JSONL")
        parser.add_argument("--tenant", help="tenant slug (optional when there is one tenant)")
        parser.add_argument("--top-k", type=int, default=evaluation.DEFAULT_TOP_K, help="sources ranked (10-50)")
        parser.add_argument("--output", help="write the JSON report to this file")
        parser.add_argument("--no-answers", action="store_true", help="score retrieval only (no answers, no LLM)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")

    def handle(self, *args, **options):
        tenant = _tenant(options["tenant"])
        with tenant_context(tenant):
            bot = command_bot(options["bot"])
            try:
                run = evaluation.evaluation_run_create(
                    bot=bot,
                    questions_text=evaluation.questions_read(options["file"]),
                    name=Path(options["file"]).name,
                    top_k=options["top_k"],
                    answers=not options["no_answers"],
                    origin="command",
                    schedule=False,
                )
            except DomainError as error:
                raise CommandError(str(error.detail)) from None
            bar = tqdm(total=run.question_count, desc="evaluating", unit="question", disable=options["no_progress"])

            def progress(done: int, total: int) -> None:
                bar.n = done
                bar.refresh()

            try:
                run = evaluation.evaluation_run_execute(run_id=run.pk, progress=progress)
            finally:
                bar.close()
        if run.status != EvaluationStatus.DONE:
            raise CommandError(f"The evaluation failed: {run.error}")
        if options["output"]:
            Path(options["output"]).write_text(json.dumps(run.report, indent=2, ensure_ascii=False) + "\n")
        self._print(run, options["output"])

    def _print(self, run, output: str | None) -> None:
        summary = run.report["summary"]
        bot = run.report["bot"]
        self.stdout.write("")
        self.stdout.write(
            f"Bot {bot['name']} ({bot['model']}), {summary['questions']} questions, top {summary['top_k']}"
            f" sources, {summary['seconds']:.1f} s"
        )
        rows = [
            ("Recall@5", summary["recall_at_5"], f"{summary['with_relevant']} questions with relevant sources"),
            ("Recall@10", summary["recall_at_10"], ""),
            ("MRR@10", summary["mrr_at_10"], ""),
            ("nDCG@10", summary["ndcg_at_10"], ""),
        ]
        if summary["answers_evaluated"]:
            rows += [
                (
                    "Answer hit rate",
                    summary["answer_hit_rate"],
                    f"{summary['with_expected_answer']} with an expected answer",
                ),
                (
                    "No-answer precision",
                    summary["no_answer_precision"],
                    f"{summary['no_answers_given']} replies said they do not know",
                ),
                (
                    "No-answer recall",
                    summary["no_answer_recall"],
                    f"{summary['without_relevant']} questions without relevant sources",
                ),
            ]
        self.stdout.write(f"  {'metric':<20} {'value':>7}")
        for label, value, note in rows:
            self.stdout.write(f"  {label:<20} {_number(value):>7}  {note}".rstrip())
        if summary["answer_errors"]:
            self.stderr.write(self.style.WARNING(f"{summary['answer_errors']} answer(s) failed; see the report"))
        if summary["unknown_labels"]:
            self.stderr.write(
                self.style.WARNING(
                    f"{summary['unknown_labels']} relevant label(s) name no active source or chunk of this bot"
                )
            )
        missed = [row for row in run.report["questions"] if not row["expected_no_answer"] and not row["ranks"]]
        if missed:
            self.stdout.write(f"No relevant source in the top {summary['top_k']} for {len(missed)} question(s), e.g.:")
            for row in missed[:5]:
                self.stdout.write(f"  line {row['line']}: {row['question'][:100]}")
        where = f"; report written to {output}" if output else ""
        self.stdout.write(f"Stored as evaluation run {run.pk}{where}")
