import factory

from bots.models import BotProfile


class BotProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BotProfile

    name = factory.Sequence(lambda n: f"Bot {n}")
    description = "A test bot"
    embedding_model = None
