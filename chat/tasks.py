"""Background LLM work for chats. Tasks take ids and call one service (tenant-schemas-celery sets the schema)."""

import logging

from celery import shared_task

from chat import evaluation, services
from minirag.errors import NotFound, UpstreamError

logger = logging.getLogger("minirag.chat")

TITLE_MAX_RETRIES = 3


@shared_task(name="chat.tasks.chat_generate_title", bind=True, ignore_result=True, max_retries=TITLE_MAX_RETRIES)
def chat_generate_title(self, *, chat_id: str) -> None:
    """Title a chat after its first exchange. Rate limits, timeouts and 5xx are retried with backoff; any
    other failure keeps the fallback title (the first 100 characters of the first message)."""
    try:
        services.chat_title_generate(chat_id=chat_id)
    except NotFound:
        return  # the chat or its bot is gone
    except UpstreamError as error:
        if services.is_transient(error) and not self.request.is_eager and self.request.retries < self.max_retries:
            raise self.retry(countdown=10 * 2**self.request.retries) from None
        logger.warning("title generation for chat %s failed: %s", chat_id, error.detail)


@shared_task(name="chat.tasks.evaluation_run", ignore_result=True)
def evaluation_run_task(*, run_id: str) -> None:
    """Evaluate a queued EvaluationRun (the console's upload); failures are recorded on the run itself."""
    evaluation.evaluation_run_execute(run_id=run_id)
