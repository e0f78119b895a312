"""The domain: models, the request state machine, intake, verification, approval, the outbox."""
