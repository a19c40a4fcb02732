"""What the ecosystem gates (``test_gate_*.py``) share: the collection as it ships, the tools' environment, the
docs site and the changelog preview. ``make docs`` and ``make changelog`` run the last two through this module's
command line (``python -m tests.sanity.gatekit docs|changelog <dest>``), so the gates test what they build.

The gates check the collection with the Ansible ecosystem's own tools -- ansible-test sanity, ansible-lint,
ansible-galaxy build and install, antsibull-docs, antsibull-changelog, ansible-builder -- each run from the
virtual environment running the tests, with none of the caller's ``ANSIBLE_*`` settings (the Makefile's
``ANSIBLE_CONFIG`` names the checkout's ansible.cfg, which a gate must not inherit by accident).
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
LINK_ROOT = ROOT / ".collections"          # `make` and the top conftest link the checkout here as hyperv.backup
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
NAMESPACE, NAME, VERSION = GALAXY["namespace"], GALAXY["name"], str(GALAXY["version"])
FQCN = f"{NAMESPACE}.{NAME}"
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def tool(name):
    """The path of a command of this virtual environment (it exists: ``make venv`` installs the tools)."""
    return str(BIN / name)


def tool_env(**extra):
    """The environment of a tool: the caller's without ``ANSIBLE_*``, this venv's bin first on PATH, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = os.pathsep.join(p for p in (str(BIN), env.get("PATH")) if p)
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", NO_COLOR="1", PY_COLORS="0")
    env.update({key: str(value) for key, value in extra.items()})
    return env


def run(cmd, cwd, env=None, timeout=900):
    """Run ``cmd`` (no shell), output captured; the result's ``text`` is the command line and everything it said."""
    proc = subprocess.run([str(part) for part in cmd], cwd=str(cwd), env=env or tool_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)
    proc.text = f"$ {' '.join(str(part) for part in cmd)}\n{proc.stdout}{proc.stderr}"
    return proc


def checkout_files():
    """The files of the checkout as git sees them: tracked, and untracked unless git ignores them."""
    proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                          capture_output=True, check=True)
    return {path for path in proc.stdout.decode("utf-8").split("\0") if path and (ROOT / path).is_file()}


def build(dest):
    """``ansible-galaxy collection build`` of the checkout into ``dest``: the artifact's path."""
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    proc = run([tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", dest, ROOT], cwd=dest)
    if proc.returncode != 0:
        raise RuntimeError(proc.text)
    return dest / f"{NAMESPACE}-{NAME}-{VERSION}.tar.gz"


def artifact_names(tarball):
    """The paths of the regular files in the artifact."""
    with tarfile.open(tarball) as archive:
        return {member.name for member in archive.getmembers() if member.isfile()}


def unpack(tarball, root):
    """The artifact's content under ``root/ansible_collections/<namespace>/<name>``, where ansible-test wants it."""
    target = pathlib.Path(root) / "ansible_collections" / NAMESPACE / NAME
    target.mkdir(parents=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    return target


def copy_checkout(root, names=None):
    """A copy of the checkout's files (``names``: the top-level entries to take, default all) under
    ``root/ansible_collections/<namespace>/<name>``: for tools that change what they work on."""
    target = pathlib.Path(root) / "ansible_collections" / NAMESPACE / NAME
    for path in sorted(checkout_files()):
        if names is None or path.split("/", 1)[0] in names:
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, target / path)
    return target


def documented(kind):
    """The names of the collection's modules, filters or roles (``kind``), from the checkout: what the artifact
    and the docs site must have."""
    if kind == "module":
        return {p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}
    if kind == "filter":
        return {p.stem for p in (ROOT / "plugins" / "filter").glob("*.yml")}
    if kind == "role":
        return {p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml")}
    raise ValueError(kind)


# The docs site -----------------------------------------------------------------------------------------------

# Offline, Sphinx cannot fetch the Ansible docsite's intersphinx inventory, and the references antsibull-docs
# writes to pages of that site (common_return_values, action_plugins, ...) stay unresolved. Those warnings are
# accepted only when the inventories could not be reached, and only for labels outside this collection's pages;
# every other warning fails the build.
_OFFLINE = "failed to reach any of the inventories"
_UNDEFINED_LABEL = re.compile(r"undefined label: '([^']+)'")


def docs_site(dest, collections_path=LINK_ROOT):
    """Build the docs site of the collection found in ``collections_path`` into ``dest`` (emptied first) with
    antsibull-docs and Sphinx.

    Returns ``(html index path or None, problems, log)``: ``problems`` are the warnings and errors that count
    (see ``_OFFLINE``); the site is good when there is an index and no problem."""
    dest = pathlib.Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True, mode=0o700)
    dest.chmod(0o700)   # antsibull-docs writes only into directories no one else can write to
    env = tool_env(ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    title = f"{FQCN} collection"
    steps = [
        [tool("antsibull-docs"), "sphinx-init", "--use-current", "--squash-hierarchy", "--fail-on-error",
         "--dest-dir", dest, "--project", FQCN, "--copyright", ", ".join(GALAXY["authors"]),
         "--title", title, "--html-short-title", title, FQCN],
        [tool("antsibull-docs"), "--config-file", dest / "antsibull-docs.cfg", "collection", "--use-current",
         "--squash-hierarchy", "--fail-on-error", "--cleanup", "everything", "--dest-dir", dest / "rst", FQCN],
        [tool("sphinx-build"), "-M", "html", dest / "rst", dest / "build", "-c", dest, "--keep-going",
         "-w", dest / "warnings.log"],
    ]
    log = []
    for step in steps:
        proc = run(step, cwd=dest, env=env)
        log.append(proc.text)
        if proc.returncode != 0:
            return None, [f"{pathlib.Path(step[0]).name} {step[1]} failed (exit {proc.returncode})"], "\n".join(log)
    entries = []                        # one per warning: its first line and the lines under it
    for line in (dest / "warnings.log").read_text(encoding="utf-8").splitlines():
        if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE):", line) or not entries:
            entries.append(line)
        elif line.strip():
            entries[-1] += "\n" + line
    offline = any(_OFFLINE in entry for entry in entries)
    problems = []
    for entry in entries:
        label = _UNDEFINED_LABEL.search(entry)
        if offline and (_OFFLINE in entry or (label and not label.group(1).startswith(f"ansible_collections.{FQCN}."))):
            continue
        problems.append(entry)
    index = dest / "build" / "html" / "index.html"
    return (index if index.is_file() else None), problems, "\n".join(log)


# The changelog -----------------------------------------------------------------------------------------------

def changelog_preview(dest):
    """The release notes the next release would have: ``antsibull-changelog release`` for the version in galaxy.yml
    in a copy of the collection (the release consumes the fragments; the checkout keeps them). Returns
    ``(CHANGELOG.rst path or None, log)``; the copy is left in ``dest``."""
    dest = pathlib.Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    copy = copy_checkout(dest, names={"galaxy.yml", "changelogs", "meta", "plugins", "roles", "playbooks"})
    env = tool_env(ANSIBLE_COLLECTIONS_PATH=dest, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    proc = run([tool("antsibull-changelog"), "release", "--version", VERSION], cwd=copy, env=env)
    rst = copy / "CHANGELOG.rst"
    return (rst if proc.returncode == 0 and rst.is_file() else None), proc.text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.sanity.gatekit", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["docs", "changelog"])
    parser.add_argument("dest")
    args = parser.parse_args(argv)
    if args.what == "docs":
        index, problems, log = docs_site(args.dest)
        if index is None or problems:
            print(log)
            print("\n".join(["docs site: problems"] + problems), file=sys.stderr)
            return 1
        print(f"docs site: {index}")
        return 0
    rst, log = changelog_preview(args.dest)
    if rst is None:
        print(log, file=sys.stderr)
        return 1
    print(f"release notes of {FQCN} {VERSION} with the changelog fragments of now: {rst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
