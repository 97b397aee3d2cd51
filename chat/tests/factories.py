import factory

from bots.models import BotProfile
from chat.models import Chat, Message, MessageRole


class BotFactory(factory.django.DjangoModelFactory):
    """A bot for chat tests (extractive by default: no provider needed)."""

    class Meta:
        model = BotProfile

    name = factory.Sequence(lambda n: f"bot-{n}")
    model = "extractive"
    system_prompt = "You are a helpful assistant."


class ChatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chat

    bot_profile_id = factory.LazyFunction(lambda: BotFactory().id)
    title = factory.Sequence(lambda n: f"chat {n}")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    chat = factory.SubFactory(ChatFactory)
    role = MessageRole.USER
    content = factory.Sequence(lambda n: f"message {n}")
