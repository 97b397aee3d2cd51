from django.contrib.auth.backends import ModelBackend


class OperatorBackend(ModelBackend):
    """Django admin sign-in: platform operators only (users without a tenant, with is_staff).

    Tenant users authenticate against the API with tokens or JWT, never with an admin session.
    """

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and user.tenant_id is None and user.is_staff
