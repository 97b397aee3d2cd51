"""What `/v1/schema` says about tenants, authentication, API tokens and users (applied in tenants.api.views)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from minirag.api.docs import ANY_MEMBER, ANYONE, LIST_PAGING, NOT_FOUND, OWNERS_AND_ADMINS, operation_description

TENANT = {
    "id": "edc01c67-8001-4e15-87f3-962ae21da73a",
    "name": "Acme",
    "slug": "acme",
    "is_active": True,
    "plan": "free",
}
OWNER = {
    "id": "b398cdc1-1451-4aae-b0f9-8ae035db7d02",
    "tenant_id": TENANT["id"],
    "email": "ada@acme.example",
    "display_name": "Ada",
    "role": "owner",
    "is_active": True,
}
MEMBER = {
    "id": "381c71b6-49d7-4ea8-9ff3-d7aa6363ec8c",
    "tenant_id": TENANT["id"],
    "email": "bob@acme.example",
    "display_name": "Bob",
    "role": "member",
    "is_active": True,
}
TOKEN = {
    "id": "abc2daa4-b14e-4cd8-a223-5e46ea3e3633",
    "tenant_id": TENANT["id"],
    "name": "ci",
    "token_prefix": "mrag_KNor742",
    "is_active": True,
    "expires_at": None,
    "last_used_at": None,
    "created_at": "2026-03-02T10:44:53.866584Z",
}
ACCESS_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIi…"
REFRESH_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCI…"
TOKEN_PAIR = {
    "access_token": ACCESS_JWT,
    "token_type": "bearer",
    "refresh_token": REFRESH_JWT,
    "user": OWNER,
    "tenant": TENANT,
}
ACCESS_LIFETIME = f"{settings.JWT_ACCESS_MINUTES} minutes"
REFRESH_LIFETIME = f"{settings.JWT_REFRESH_DAYS} days"

# --- Tenants -------------------------------------------------------------------------------------------------

tenant_bootstrap_docs = extend_schema_view(
    post=extend_schema(
        summary="Sign up: create a tenant, its owner and a first API token",
        description=operation_description(
            "Creates a tenant with its own isolated storage, its first user (role `owner`) and an API token "
            "named `default`. The raw token is in this answer only — store it; it is the credential for every "
            "other call (`Authorization: Bearer mrag_…`). Everything is created together or not at all.\n\n"
            "`tenant_slug` is lowercase letters, digits and hyphens (at most 100); some slugs are reserved. "
            "The owner's password must be 8–128 characters, not all digits and not a common one.",
            who=ANYONE + " The server's sign-up mode may require an `invite_code` or refuse public sign-up.",
            answers=[
                (201, "created; `api_token` is shown only this once"),
                (403, "sign-up is closed on this server, or the invite code is missing, unknown, used up or expired"),
                (409, "the slug is already taken"),
                (422, "invalid or reserved slug, invalid email, weak password"),
                (429, "too many sign-ups from your address; `Retry-After` says when to try again"),
            ],
        ),
        examples=[
            OpenApiExample(
                "Sign up",
                value={
                    "tenant_name": "Acme",
                    "tenant_slug": "acme",
                    "owner_email": "ada@acme.example",
                    "owner_password": "correct-horse-battery",
                    "owner_display_name": "Ada",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={
                    "tenant": TENANT,
                    "api_token": "mrag_9MUN3HoWmX1dW8cZk2yq0Tq4nY7r3SxL5aBvC8dEf0g",
                    "token_prefix": "mrag_9MUN3Ho",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
)

# --- Authentication ------------------------------------------------------------------------------------------

login_docs = extend_schema_view(
    post=extend_schema(
        summary="Log in with email and password",
        description=operation_description(
            "Checks the email and password and returns an access JWT (valid "
            f"{ACCESS_LIFETIME}) and a refresh JWT (valid {REFRESH_LIFETIME}), with the user and tenant. Send "
            "the access token as `Authorization: Bearer <access_token>`; renew it with `POST /v1/auth/refresh`. "
            "The same email may exist in several tenants: then add `tenant_slug` to choose one.",
            who=ANYONE,
            answers=[
                (400, "the email belongs to several tenants and no `tenant_slug` was given"),
                (401, "wrong email or password (the two are not told apart)"),
                (403, "the account or the tenant is disabled"),
                (429, "too many attempts from your address or for this email; `Retry-After` says when to retry"),
            ],
        ),
        examples=[
            OpenApiExample(
                "Log in",
                value={"email": "ada@acme.example", "password": "correct-horse-battery"},
                request_only=True,
            ),
            OpenApiExample("Logged in", value=TOKEN_PAIR, response_only=True, status_codes=["200"]),
        ],
    )
)

refresh_docs = extend_schema_view(
    post=extend_schema(
        summary="Exchange a refresh token for new tokens",
        description=operation_description(
            "Returns a new access JWT and a new refresh JWT for the refresh token's user, after checking that "
            "the user and the tenant are still active.",
            who=ANYONE + " The refresh token is the credential.",
            answers=[
                (401, "the refresh token is invalid or expired, or its user or tenant was disabled"),
                (429, "too many attempts from your address"),
            ],
        ),
        examples=[
            OpenApiExample("Refresh", value={"refresh_token": REFRESH_JWT}, request_only=True),
            OpenApiExample("New tokens", value=TOKEN_PAIR, response_only=True, status_codes=["200"]),
        ],
    )
)

me_docs = extend_schema_view(
    get=extend_schema(
        summary="Get the user and tenant behind your credential",
        description=operation_description(
            "The user your API token or JWT acts as (with their current role) and their tenant.",
            who=ANY_MEMBER,
        ),
        examples=[OpenApiExample("Owner", value={"user": OWNER, "tenant": TENANT}, response_only=True)],
    )
)

# --- API tokens ----------------------------------------------------------------------------------------------

_WHO_MANAGES_WHICH = (
    "Who manages which token: owners every token of the tenant, admins their own and non-owners' tokens, "
    "members only their own."
)

api_token_docs = extend_schema_view(
    list=extend_schema(
        summary="List the API tokens you may manage",
        description=operation_description(
            "The tokens you may manage, newest first, revoked ones included (`is_active: false`). Only a "
            "token's first characters (`token_prefix`) are ever shown again. " + LIST_PAGING,
            who=ANY_MEMBER,
            notes=[_WHO_MANAGES_WHICH],
        ),
        examples=[
            OpenApiExample(
                "Token",
                value={
                    **TOKEN,
                    "id": "da8e8269-1038-424c-bc40-7b77c25a7650",
                    "name": "default",
                    "token_prefix": "mrag_9MUN3Ho",
                    "last_used_at": "2026-03-02T10:50:01.788927Z",
                    "created_at": "2026-03-01T08:00:00.605919Z",
                },
                response_only=True,
            )
        ],
    ),
    create=extend_schema(
        summary="Create an API token",
        description=operation_description(
            "Creates a token for you; it acts with your role. The raw value (`raw_token`) is in this answer "
            "only — the server keeps just a hash of it. Use it as `Authorization: Bearer mrag_…`.",
            who=ANY_MEMBER,
            answers=[(201, "created; `raw_token` is shown only this once")],
        ),
        examples=[
            OpenApiExample("A token for CI", value={"name": "ci"}, request_only=True),
            OpenApiExample(
                "Created",
                value={**TOKEN, "raw_token": "mrag_KNor742DPqNCuIypcxvS4AeNQU8QyDE62XWGfhIPZ94"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    ),
    destroy=extend_schema(
        summary="Revoke an API token",
        description=operation_description(
            "Revokes the token: the next request made with it gets 401. The token stays listed with "
            "`is_active: false`. Revoking a revoked token succeeds again.",
            who=ANY_MEMBER,
            notes=[_WHO_MANAGES_WHICH],
            answers=[(204, "revoked"), (404, NOT_FOUND + ", or a token you may not manage")],
        ),
    ),
)

# --- Users ---------------------------------------------------------------------------------------------------

user_docs = extend_schema_view(
    list=extend_schema(
        summary="List the tenant's users",
        description=operation_description(
            "Every user of your tenant, deactivated ones included, sorted by email. " + LIST_PAGING,
            who=ANY_MEMBER,
        ),
        examples=[OpenApiExample("Member", value=MEMBER, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Get a user",
        description=operation_description("One user of your tenant.", who=ANY_MEMBER, answers=[(404, NOT_FOUND)]),
        examples=[OpenApiExample("Member", value=MEMBER, response_only=True)],
    ),
    create=extend_schema(
        summary="Add a user to the tenant",
        description=operation_description(
            "Creates a user who can log in with this email and password. `role` defaults to `member`. The "
            "password must be 8–128 characters and not a common one.",
            who=OWNERS_AND_ADMINS + " Only an owner may create another owner.",
            answers=[
                (201, "created"),
                (403, "you are a member, or an admin creating an owner"),
                (409, "a user with this email already exists in the tenant"),
                (422, "invalid email, weak password, unknown role"),
            ],
        ),
        examples=[
            OpenApiExample(
                "Add a member",
                value={
                    "email": "bob@acme.example",
                    "password": "another-long-passphrase",
                    "display_name": "Bob",
                    "role": "member",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=MEMBER, response_only=True, status_codes=["201"]),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a user",
        description=operation_description(
            "Changes only the fields you send: email, password, display name, role, or `is_active` to "
            "deactivate or reactivate. A deactivated user's tokens stop working on their next request.",
            who=OWNERS_AND_ADMINS + " Only an owner may change an owner or make someone an owner.",
            answers=[
                (403, "you are a member, or an admin changing or granting the owner role"),
                (404, NOT_FOUND),
                (409, "the email is taken in the tenant, or the change would leave no active owner"),
            ],
        ),
        examples=[
            OpenApiExample("Rename", value={"display_name": "Bob"}, request_only=True),
            OpenApiExample("Promote to admin", value={"role": "admin"}, request_only=True),
            OpenApiExample("Changed", value=MEMBER, response_only=True, status_codes=["200"]),
        ],
    ),
    destroy=extend_schema(
        summary="Deactivate a user",
        description=operation_description(
            "Deactivates the user (nothing is deleted): they can no longer log in and their API tokens and JWTs "
            "stop working on their next request. Reactivate with `PATCH` and `is_active: true`.",
            who=OWNERS_AND_ADMINS + " Only an owner may deactivate an owner.",
            answers=[
                (204, "deactivated"),
                (403, "you are a member, or an admin deactivating an owner"),
                (404, NOT_FOUND),
                (409, "the user is the last active owner"),
            ],
        ),
    ),
)
