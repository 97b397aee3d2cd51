from django.urls import path

from usage.api import views

urlpatterns = [
    path("stats/overview", views.OverviewView.as_view(), name="stats-overview"),
    path("stats/usage", views.UsageView.as_view(), name="stats-usage"),
    path("stats/usage/by-bot", views.UsageByBotView.as_view(), name="stats-usage-by-bot"),
    path("stats/usage/by-model", views.UsageByModelView.as_view(), name="stats-usage-by-model"),
    path("stats/cost-estimate", views.CostEstimateView.as_view(), name="stats-cost-estimate"),
    path("stats/pricing", views.PricingView.as_view(), name="stats-pricing"),
    path("stats/feedback", views.FeedbackView.as_view(), name="stats-feedback"),
    path("stats/feedback/trend", views.FeedbackTrendView.as_view(), name="stats-feedback-trend"),
]
