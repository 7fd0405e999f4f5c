#!/usr/bin/env bash
# Runs ansible-test (sanity or units) on a copy of the collection at the path ansible-test
# requires (ansible_collections/dualstack/kubernetes), made from the files git tracks or
# would track. Arguments go to ansible-test: tests/ansible-test.sh sanity --test pylint
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/env.sh
. "$repo/tests/env.sh"
# Outside the checkout: inside it, git would report the copy as ignored and ansible-test
# would find no files to test.
stage=${DUALSTACK_STAGE:-${TMPDIR:-/tmp}/dualstack-ansible-test-$(printf %s "$repo" | sha256sum | cut -c1-8)}
stage=$stage/ansible_collections/dualstack/kubernetes
rm -rf "$stage"
mkdir -p "$stage"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ ! -e "$f" ] || printf '%s\0' "$f"; done |
  tar --null -cf - -T -) | tar -C "$stage" -xf -
# ansible-test bootstraps pip in its virtualenvs with a script it downloads from a host
# this project cannot rely on; the stand-in does the same from the package index.
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
pip_version=$(sed -n "s/^ *pip='\\([0-9.]*\\)',\$/\\1/p" \
  "$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")
cp "$repo/tests/sanity/offline_get_pip.py" "$cache/get_pip_${pip_version//./_}.py"
cd "$stage"
rc=0
ansible-test "$@" --python 3.11 --requirements --color no || rc=$?
# Reports (JUnit and the rest) go back to the checkout, where tests/run reads them.
rm -rf "$repo/.build/ansible-test-output"
mkdir -p "$repo/.build"
[ ! -d tests/output ] || cp -r tests/output "$repo/.build/ansible-test-output"
exit $rc
