"""End-user URLs outside /v1/ (no tenant credential): the widget script and the hosted chat page."""

from django.urls import path, re_path

from chat import public_views

urlpatterns = [
    path("widget.js", public_views.widget_script, name="widget-js"),
    re_path(r"^widget\.(?P<version>[0-9a-f]{6,64})\.js$", public_views.widget_script, name="widget-js-versioned"),
    path("c/<str:key_id>", public_views.hosted_chat, name="hosted-chat"),
]
