import factory

from usage.models import UsageEvent, UsageKind


class UsageEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageEvent

    kind = UsageKind.CHAT
    model = "gpt-4o-mini"
    prompt_tokens = 100
    completion_tokens = 50
    total_tokens = factory.LazyAttribute(lambda o: o.prompt_tokens + o.completion_tokens)
