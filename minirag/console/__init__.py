"""The operator console: cross-tenant views and per-tenant pages added to the Django admin (tenants/admin.py)."""
