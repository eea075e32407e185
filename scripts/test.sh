#!/usr/bin/env bash
# Set up the project with its development tools and run every check: lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
TRYGG_EXTRAS=dev
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
