"""The control plane's use cases, below the api: keyword-only functions over a session that
change the registry in one transaction (audited, with their intents in the outbox) and refuse
with the domain errors of `services.errors`. They know no HTTP."""
