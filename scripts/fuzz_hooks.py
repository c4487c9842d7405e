"""Schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis

# POST /admin/tenants/{id}/import takes an export as NDJSON text: send generated bodies as
# text, as schemathesis sends text/plain.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
