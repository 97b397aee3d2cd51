from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks

        from minirag.api.origins import check_public_base_url
        from minirag.api.throttling import check_rate_settings

        checks.register(check_rate_settings)
        checks.register(check_public_base_url)
