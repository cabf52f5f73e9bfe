"""Webhook services: `endpoints` (what people do to endpoints, guarded and
audited), `deliveries` (rows written with the audit events, sent by the
worker, retried, swept)."""
