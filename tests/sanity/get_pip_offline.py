"""Stands in for the get-pip.py script that ansible-test downloads from ci-files.testing.ansible.com to put pip into
the empty virtual environments of its sanity tests. Where that host cannot be reached (ansible-test then stops
with "Download failed"), this does the same from what every Python has: ensurepip installs the interpreter's
bundled pip, which installs the pip version ansible-test asks for from the package index pip is configured with.

ansible-test runs it as ``python <pip shim> <pip options> pip==<version> [--no-setuptools] [--no-wheel]`` with
GET_PIP naming this file; the gate copies it to where ansible-test looks for a cached download
(``~/.ansible/test/cache/get_pip_<version>.py``, under the HOME the gate gives ansible-test).
"""
import subprocess
import sys

FLAGS = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}


def main(args):
    # ensurepip runs as a child process: inside this one it would set PIP_CONFIG_FILE=/dev/null for the pip
    # started below, which would then lose the machine's pip configuration (index, certificates).
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade", "--force-reinstall"]
                          + [arg for arg in args if arg not in FLAGS])
    for flag, package in FLAGS.items():
        if flag in args:   # get-pip.py would not have installed it; ensurepip may have
            subprocess.call([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", package])


if __name__ == "__main__":
    main(sys.argv[1:])
