from rest_framework import serializers

from tenants.models import SLUG_PATTERN, ApiToken, Role, Tenant, User


class TenantReadSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "is_active", "plan"]


class UserReadSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "tenant_id", "email", "display_name", "role", "is_active"]


class TenantBootstrapSerializer(serializers.Serializer):
    tenant_name = serializers.CharField(max_length=255, allow_blank=True, trim_whitespace=False)
    tenant_slug = serializers.RegexField(SLUG_PATTERN, max_length=100)
    owner_email = serializers.EmailField(max_length=320)
    owner_password = serializers.CharField(min_length=8, max_length=128, trim_whitespace=False)
    owner_display_name = serializers.CharField(max_length=255, allow_blank=True, default="")
    invite_code = serializers.CharField(
        max_length=200,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="Needed when the server's sign-up mode is `invite` (SIGNUP_MODE); ignored otherwise",
    )


class TenantBootstrapResponseSerializer(serializers.Serializer):
    tenant = TenantReadSerializer()
    api_token = serializers.CharField(help_text="Raw API token, shown only once")
    token_prefix = serializers.CharField()


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=320)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    tenant_slug = serializers.CharField(
        max_length=100, required=False, allow_null=True, help_text="Needed when the email exists in several tenants"
    )


class LoginResponseSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField(default="bearer")
    refresh_token = serializers.CharField()
    user = UserReadSerializer()
    tenant = TenantReadSerializer()


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class MeSerializer(serializers.Serializer):
    user = UserReadSerializer()
    tenant = TenantReadSerializer()


class ApiTokenReadSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "tenant_id", "name", "token_prefix", "is_active", "expires_at", "last_used_at", "created_at"]


class ApiTokenCreatedSerializer(ApiTokenReadSerializer):
    raw_token = serializers.CharField(help_text="Shown only once")

    class Meta(ApiTokenReadSerializer.Meta):
        fields = [*ApiTokenReadSerializer.Meta.fields, "raw_token"]


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)


class UserCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=320)
    password = serializers.CharField(min_length=8, max_length=128, trim_whitespace=False)
    display_name = serializers.CharField(max_length=255, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class UserUpdateSerializer(serializers.Serializer):
    """Only the fields sent are changed."""

    email = serializers.EmailField(max_length=320, required=False)
    password = serializers.CharField(min_length=8, max_length=128, trim_whitespace=False, required=False)
    display_name = serializers.CharField(max_length=255, allow_blank=True, required=False)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
