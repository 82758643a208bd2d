"""The assistant domain: services, the voice pipeline, the store, settings, the CLI.

Kept free of imports on purpose: ``runtime`` and ``hal`` import ``assistant.errors``
(a leaf module) and must not pull in the rest.
"""
