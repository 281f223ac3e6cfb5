#!/usr/bin/env bash
# Run the test suite against one TensorFlow release, to find which releases it passes on.
#
#   tools/tf_version_run.sh TF_VERSION [pytest args...]
#
# Makes a fresh venv (in a new temp dir, or at $TFREF_VENV_DIR/tf-TF_VERSION if that is set),
# installs tensorflow==TF_VERSION beside this repo's [test] extra in one pip command (so pip
# picks the keras/numpy that go with it), prints the versions it got, then runs
#   python -m pytest tests --hypothesis-profile=ci -p no:cacheprovider [pytest args...]
# from the repo root on both TensorFlow CPU kernel paths, TF_ENABLE_ONEDNN_OPTS=1 then =0
# (only the one given, if TF_ENABLE_ONEDNN_OPTS is set), and exits non-zero if either fails.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 TF_VERSION [pytest args...]" >&2
    exit 2
fi
tf_version=$1
shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

venv=${TFREF_VENV_DIR:-$(mktemp -d)}/tf-$tf_version
python3 -m venv --clear "$venv"
py=$venv/bin/python
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet -e "$repo[test]" "tensorflow==$tf_version"

echo "venv: $venv"
"$py" - <<'EOF'
import platform
from importlib.metadata import PackageNotFoundError, version
for name in ("tensorflow", "keras", "numpy", "ml_dtypes", "hypothesis"):
    try:
        print(f"{name:12} {version(name)}")
    except PackageNotFoundError:
        print(f"{name:12} (not installed)")
print(f"{'python':12} {platform.python_version()}")
EOF

cd "$repo"
status=0
for onednn in ${TF_ENABLE_ONEDNN_OPTS:-1 0}; do
    echo "+ TF_ENABLE_ONEDNN_OPTS=$onednn pytest tests --hypothesis-profile=ci $*   # TensorFlow $tf_version"
    TF_ENABLE_ONEDNN_OPTS=$onednn "$py" -m pytest tests --hypothesis-profile=ci -p no:cacheprovider "$@" || status=$?
done
exit $status
