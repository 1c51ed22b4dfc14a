"""The controller manager's controllers: one module per controller, each level-triggered and idempotent."""
