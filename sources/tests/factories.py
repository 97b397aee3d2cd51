import factory

from bots.tests.factories import BotProfileFactory
from sources.models import Source, SourceType


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    bot_profile = factory.SubFactory(BotProfileFactory)
    name = factory.Sequence(lambda n: f"Source {n}")
    source_type = SourceType.TEXT
    content = "MiniRAG turns documents into searchable knowledge."
    config = factory.LazyFunction(dict)
