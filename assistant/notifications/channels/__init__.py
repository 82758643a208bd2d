"""The channels notifications are delivered on, each behind ``base.Channel``."""
