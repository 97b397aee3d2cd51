"""Each tenant's chats in the operator console (read-only: chats change only through the API), and its
evaluation runs: an operator uploads labelled questions for a bot, a Celery task evaluates them, the page shows
the progress and then the report."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from bots.models import BotProfile
from chat import evaluation
from chat.models import Chat, EvaluationRun, EvaluationStatus, Message
from minirag.admin import TenantScopedAdmin
from minirag.errors import DomainError


class MessageInline(admin.TabularInline):
    """A chat's messages on its page, oldest first. Read-only: conversations are history."""

    model = Message
    fields = ["created_at", "role", "content", "prompt_tokens", "completion_tokens", "feedback", "is_complete"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Chat)
class ChatAdmin(TenantScopedAdmin):
    inlines = [MessageInline]
    list_display = [
        "title",
        "bot_profile_id",
        "via_key",
        "message_count",
        "total_prompt_tokens",
        "total_completion_tokens",
        "created_at",
        "updated_at",
    ]
    search_fields = ["title"]
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Chat._meta.fields]

    @admin.display(boolean=True, description="via key", ordering="publishable_key_id")
    def via_key(self, chat) -> bool:
        """Started by a publishable key (a visitor of a web page), not by a user of the tenant."""
        return chat.publishable_key_id is not None


@admin.register(Message)
class MessageAdmin(TenantScopedAdmin):
    list_display = ["chat_id", "role", "short_content", "feedback", "is_complete", "completion_tokens", "created_at"]
    list_filter = ["role", "feedback", "is_complete"]
    search_fields = ["content"]
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Message._meta.fields]

    @admin.display(description="Content")
    def short_content(self, message):
        return message.content[:120]


class EvaluationUploadForm(forms.Form):
    bot_profile = forms.ModelChoiceField(queryset=BotProfile.objects.none(), label="Bot")
    questions_file = forms.FileField(
        label="Labelled questions (JSONL)",
        help_text='One JSON object per line: {"question": "...", "relevant": ["source name", ...], "answer": "..."}',
    )
    top_k = forms.IntegerField(
        label="Sources ranked", initial=evaluation.DEFAULT_TOP_K, min_value=evaluation.MIN_TOP_K,
        max_value=evaluation.MAX_TOP_K,
    )  # fmt: skip
    include_answers = forms.BooleanField(
        label="Also generate and score answers", required=False, initial=True,
        help_text="Off: retrieval metrics only (no LLM calls).",
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built per request, inside the tenant's schema.
        self.fields["bot_profile"].queryset = BotProfile.objects.filter(is_active=True).order_by("name")


@admin.register(EvaluationRun)
class EvaluationRunAdmin(TenantScopedAdmin):
    """Evaluation runs of the chosen tenant; "Evaluate a bot" uploads a labelled file and queues the task."""

    change_list_template = "admin/chat/evaluationrun/change_list.html"
    list_display = [
        "created_at", "bot_profile", "name", "status", "progress_percent", "question_count", "ndcg_at_10",
        "recall_at_10", "answer_hit_rate", "origin",
    ]  # fmt: skip
    list_filter = ["status", "origin"]
    list_select_related = ["bot_profile"]
    search_fields = ["name"]
    list_per_page = 50
    fields = [
        "bot_profile", "name", "status", "progress_percent", "question_count", "top_k", "include_answers",
        "origin", "error", "created_at", "started_at", "finished_at", "report_summary", "report_questions",
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a run is read, never edited (the page has no Save buttons)

    def get_urls(self):
        upload = path("evaluate/", self.admin_site.admin_view(self.upload_view), name="chat_evaluationrun_upload")
        return [upload, *super().get_urls()]

    def upload_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self._in_tenant(request, self._upload)

    def _upload(self, request, extra_context=None):
        form = EvaluationUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["questions_file"]
            try:
                if upload.size > evaluation.MAX_FILE_BYTES:
                    raise evaluation.QuestionFileError(
                        f"The question file is larger than {evaluation.MAX_FILE_BYTES // (1024 * 1024)} MB"
                    )
                run = evaluation.evaluation_run_create(
                    bot=form.cleaned_data["bot_profile"],
                    questions_text=evaluation.questions_decode(upload.read(evaluation.MAX_FILE_BYTES + 1)),
                    name=upload.name,
                    top_k=form.cleaned_data["top_k"],
                    answers=form.cleaned_data["include_answers"],
                )
            except DomainError as error:
                form.add_error("questions_file", str(error.detail))
            else:
                self.message_user(
                    request, f"Evaluating {run.question_count} question(s); this page shows the progress.",
                    messages.SUCCESS,
                )  # fmt: skip
                return redirect(reverse("admin:chat_evaluationrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.model._meta,
            "title": "Evaluate a bot on labelled questions",
            "form": form,
        }
        return TemplateResponse(request, "admin/chat/evaluationrun/upload.html", context)

    @admin.display(description="Progress")
    def progress_percent(self, run):
        return f"{run.progress}%"

    def _summary(self, run, key):
        value = ((run.report or {}).get("summary") or {}).get(key)
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description="nDCG@10")
    def ndcg_at_10(self, run):
        return self._summary(run, "ndcg_at_10")

    @admin.display(description="Recall@10")
    def recall_at_10(self, run):
        return self._summary(run, "recall_at_10")

    @admin.display(description="Answer hits")
    def answer_hit_rate(self, run):
        return self._summary(run, "answer_hit_rate")

    @admin.display(description="Summary")
    def report_summary(self, run):
        if run.status in (EvaluationStatus.QUEUED, EvaluationStatus.RUNNING):
            return format_html(
                '<meta http-equiv="refresh" content="5">{} ({}% done); this page reloads every 5 seconds.',
                run.get_status_display(), run.progress,
            )  # fmt: skip
        if not run.report:
            return "—"
        return render_to_string("admin/chat/evaluationrun/summary.html", {"summary": run.report["summary"]})

    @admin.display(description="Questions")
    def report_questions(self, run):
        if not run.report:
            return "—"
        return render_to_string(
            "admin/chat/evaluationrun/questions.html",
            {"rows": run.report["questions"], "answers": run.report["summary"]["answers_evaluated"]},
        )
