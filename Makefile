# Courtyard — the two commands of the README's quick start, and a few more.
.PHONY: demo test bench lint help

help:
	@echo "make demo   一键演示 / cloud + simulated meters + edge, console on http://127.0.0.1:8080/"
	@echo "make test   全部测试 / the whole test suite against real Mosquitto and PostgreSQL"
	@echo "make bench  性能测试 / benchmarks, printing figures"
	@echo "make lint   ruff + mypy + import-linter"

demo:
	@scripts/bootstrap.sh
	@.venv/bin/courtyard demo

test:
	@scripts/test.sh

bench:
	@scripts/bootstrap.sh --test
	@.venv/bin/python -m benchmarks

lint:
	@scripts/bootstrap.sh
	@.venv/bin/ruff check .
	@.venv/bin/mypy
	@.venv/bin/lint-imports
