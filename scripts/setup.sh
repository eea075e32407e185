# Sourced by run.sh and test.sh: a virtual environment in .venv with the project installed.
# Reinstalls only when pyproject.toml changed, so a second run starts at once.
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "trygg needs Python 3.11 or newer ($python is $("$python" --version 2>&1))" >&2
  exit 1
fi
extras=${TRYGG_EXTRAS:-}
spec="."
[ -n "$extras" ] && spec=".[$extras]"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet -e "$spec"
  touch "$stamp"
fi
