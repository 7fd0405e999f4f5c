#!/usr/bin/env bash
# Runs ansible-test (sanity or units) on a copy of the collection at the path ansible-test
# requires (ansible_collections/dualstack/kubernetes), made from the files git tracks or
# would track. Arguments go to ansible-test: tests/ansible-test.sh sanity --test pylint
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/env.sh
. "$repo/tests/env.sh"
stage=${DUALSTACK_STAGE:-$repo/.build/ansible-test}/ansible_collections/dualstack/kubernetes
rm -rf "$stage"
mkdir -p "$stage"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
  tar --null -cf - -T -) | tar -C "$stage" -xf -
# ansible-test bootstraps pip in its virtualenvs with a script it downloads from a host
# this project cannot rely on; the stand-in does the same from the package index.
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
pip_version=$(sed -n "s/^ *pip='\\([0-9.]*\\)',\$/\\1/p" \
  "$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")
cp "$repo/tests/sanity/offline_get_pip.py" "$cache/get_pip_${pip_version//./_}.py"
cd "$stage"
exec ansible-test "$@" --python 3.11 --requirements --color no
