"""Signals of the tenants app (the public layer); domain apps subscribe, tenants imports none of them."""

from django.dispatch import Signal

# Sent by tenants.schema.create_tenant_schema right after the tenant tables exist, with `schema_name` and
# `cursor` (search_path set to the new schema): apps add what models cannot express (e.g. raw index tables).
tenant_schema_created = Signal()
