"""Stand-in for the get-pip.py that ansible-test downloads from a host outside the package
registries: the virtualenv's own ensurepip, then pip from the package index, do the same.

ensurepip runs in a child process because it points PIP_CONFIG_FILE at /dev/null in the
process that calls it, which would hide the machine's pip configuration from the install."""
import subprocess
import sys

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
args = [arg for arg in sys.argv[1:] if arg not in ('install', '--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *args])
