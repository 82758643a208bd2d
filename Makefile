# Shortcuts for the scripts (make is optional: the scripts work alone).
.PHONY: run test setup lint bench
run:
	./scripts/run
test:
	./scripts/test
setup:
	./scripts/setup.sh test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
bench:
	.venv/bin/python -m benchmarks.engines
