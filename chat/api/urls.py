from django.urls import path

from chat.api import views

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
]
