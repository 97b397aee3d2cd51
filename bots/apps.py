from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"
    verbose_name = "Bot profiles"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A malformed ENCRYPTION_KEYS entry fails at startup with a clear message, not as a 500 at request time.
        # (A missing key is already refused by settings outside DEBUG.)
        from bots.stats import bots_quota_usage
        from minirag.encryption import validate_keys
        from usage.selectors import register_size_counter

        validate_keys()
        register_size_counter(["bots"], bots_quota_usage)  # usage counts the `bots` quota through this
