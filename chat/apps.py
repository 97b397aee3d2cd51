from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat.stats import chat_requests_since, health_counts
        from minirag import health
        from usage.selectors import register_rate_counter

        # usage counts the chat requests of `chat_requests_per_day` through this (it imports no chat)
        register_rate_counter("chat_requests_per_day", chat_requests_since)
        health.register_tenant_counts(health_counts)  # the detailed health's per-tenant counts
