"""The control plane's HTTP API (version 1): routes, dependencies, middleware, Idempotency-Key,
rate limits, the OpenAPI document, and domain errors as problem+json. The only layer that knows
HTTP."""
