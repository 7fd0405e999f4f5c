"""The collection builds into a tarball that installs and documents its plugins."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tarfile

import yaml


def run(*args: str, cwd: pathlib.Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f'{" ".join(args)} failed:\n{result.stdout}\n{result.stderr}'
    return result.stdout


def test_build_install_and_list_modules(repo: pathlib.Path, tmp_path: pathlib.Path) -> None:
    galaxy = yaml.safe_load((repo / 'galaxy.yml').read_text())
    run('ansible-galaxy', 'collection', 'build', '--output-path', str(tmp_path), str(repo), cwd=repo)
    tarball = tmp_path / f'dualstack-kubernetes-{galaxy["version"]}.tar.gz'
    assert tarball.is_file()
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    # Development state stays out of the artifact users install.
    assert not any(name.startswith(('.venv', '.build', '.lab', '.ci')) for name in names)

    install = tmp_path / 'installed'
    # Only the installed copy is on the path, not the checkout the tests run from. The
    # dependencies come with the ansible package here: Galaxy is not reachable.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(install))
    run('ansible-galaxy', 'collection', 'install', '--no-deps', '-p', str(install), str(tarball), cwd=tmp_path, env=env)
    assert (install / 'ansible_collections' / 'dualstack' / 'kubernetes' / 'galaxy.yml').is_file() or \
        (install / 'ansible_collections' / 'dualstack' / 'kubernetes' / 'MANIFEST.json').is_file()
    listed = json.loads(run('ansible-doc', '-t', 'module', '-l', 'dualstack.kubernetes', '-j', cwd=tmp_path, env=env))
    modules = sorted(name for name in (repo / 'plugins' / 'modules').glob('*.py') if name.stem != '__init__')
    assert modules, 'the collection has no modules'
    assert sorted(listed) == sorted(f'dualstack.kubernetes.{path.stem}' for path in modules)
