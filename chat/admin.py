"""Each tenant's chats in the operator console (read-only: chats change only through the API)."""

from django.contrib import admin

from bots.tenant_admin import TenantScopedAdmin
from chat.models import Chat, Message


@admin.register(Chat)
class ChatAdmin(TenantScopedAdmin):
    list_display = [
        "title",
        "bot_profile_id",
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
