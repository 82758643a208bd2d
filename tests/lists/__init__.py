"""Notes and lists: the service, the skills, the API and the CLI."""
