# Source this file (". tests/env.sh") to get the project's virtualenv and the collection on
# Ansible's path. It sets up what is missing and is quick when everything is there.
# shellcheck shell=bash
_ds_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ds_venv=${DUALSTACK_VENV:-$_ds_repo/.venv}
_ds_stamp=$_ds_venv/.requirements.sha256
_ds_want=$(cat "$_ds_repo/requirements.txt" "$_ds_repo/requirements-test.txt" | sha256sum | cut -d' ' -f1)
if [ ! -x "$_ds_venv/bin/python" ] || [ "$(cat "$_ds_stamp" 2>/dev/null)" != "$_ds_want" ]; then
  echo "env: installing the pinned requirements into $_ds_venv" >&2
  python3 -m venv "$_ds_venv"
  "$_ds_venv/bin/pip" install -q --upgrade pip >/dev/null
  (cd "$_ds_repo" && "$_ds_venv/bin/pip" install -q -r requirements-test.txt 2> >(grep -v "is ignored" >&2)) || return 1 2>/dev/null || exit 1
  echo "$_ds_want" >"$_ds_stamp"
fi
# Ansible finds the collection by its namespace/name path; a link keeps edits live.
_ds_coll=$_ds_repo/.build/collections/ansible_collections/dualstack
mkdir -p "$_ds_coll"
[ -L "$_ds_coll/kubernetes" ] || ln -sfn ../../../.. "$_ds_coll/kubernetes"
export VIRTUAL_ENV=$_ds_venv
export PATH=$_ds_venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$_ds_repo/.build/collections
export ANSIBLE_CONFIG=$_ds_repo/ansible.cfg
export ANSIBLE_HOME=$_ds_repo/.cache/ansible
export DUALSTACK_REPO=$_ds_repo
export DUALSTACK_SHARED=${DUALSTACK_SHARED:-$(cd "$_ds_repo/.." && pwd)/shared}
unset _ds_repo _ds_venv _ds_stamp _ds_want _ds_coll
