from django.urls import path

from chat.api import openai_views, stats, views

urlpatterns = [
    path("chat", views.ChatView.as_view(), name="chat"),
    path("chat/export", views.BulkExportView.as_view(), name="chat-export"),
    path("chat/<uuid:chat_id>", views.ChatDetailView.as_view(), name="chat-detail"),
    path("chat/<uuid:chat_id>/messages", views.ChatMessagesView.as_view(), name="chat-messages"),
    path("chat/<uuid:chat_id>/export", views.ChatExportView.as_view(), name="chat-export-one"),
    path(
        "chat/<uuid:chat_id>/messages/<uuid:message_id>/feedback",
        views.MessageFeedbackView.as_view(),
        name="chat-message-feedback",
    ),
    # The OpenAI-compatible API (base URL /v1/openai for OpenAI clients)
    path("openai/models", openai_views.ModelsView.as_view(), name="openai-models"),
    path("openai/models/<path:model>", openai_views.ModelDetailView.as_view(), name="openai-model"),
    path("openai/chat/completions", openai_views.ChatCompletionsView.as_view(), name="openai-chat-completions"),
    # /v1/stats that combine several apps' numbers (usage's own are in usage/api/urls.py)
    path("stats/overview", stats.OverviewView.as_view(), name="stats-overview"),
    path("stats/usage/by-bot", stats.UsageByBotView.as_view(), name="stats-usage-by-bot"),
    path("stats/cost-estimate", stats.CostEstimateView.as_view(), name="stats-cost-estimate"),
    path("stats/feedback", stats.FeedbackView.as_view(), name="stats-feedback"),
    path("stats/feedback/trend", stats.FeedbackTrendView.as_view(), name="stats-feedback-trend"),
]
