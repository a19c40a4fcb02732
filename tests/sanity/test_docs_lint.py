"""antsibull-docs' collection docs lint passes: every plugin's and role's documentation validates against the
schema the Ansible docsite uses, its markup (C(), O(), RV(), P(), ...) parses and references resolve, and the
generated RST passes rstcheck.

The lint needs the collection under ``ansible_collections/hyperv/backup``; it gets a link to this checkout in
a temporary directory, so it checks the working tree whatever ``make`` has set up.
"""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
ANTSIBULL_DOCS = BIN / "antsibull-docs"


def lint(collection_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
               ANSIBLE_COLLECTIONS_PATH=str(collection_dir.parents[2]), ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(ANTSIBULL_DOCS), "lint-collection-docs", "--plugin-docs", str(collection_dir)],
                          cwd=collection_dir.parents[2], env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def linked_collection(tmp_path):
    link = tmp_path / "ansible_collections" / "hyperv" / "backup"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT, target_is_directory=True)
    return link


def test_antsibull_docs_is_installed():
    assert ANTSIBULL_DOCS.is_file(), f"{ANTSIBULL_DOCS} is missing: it is in tests/requirements.txt (make venv)"


def test_collection_docs_lint_passes(tmp_path):
    proc = lint(linked_collection(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_lint_finds_broken_docs(tmp_path):
    """The lint is not a no-op: a copy of the collection with one broken filter doc fails it, naming the file."""
    copy = tmp_path / "copy" / "ansible_collections" / "hyperv" / "backup"
    copy.mkdir(parents=True)
    for name in ("galaxy.yml", "meta", "plugins"):
        source = ROOT / name
        if source.is_dir():
            subprocess.run(["cp", "-r", str(source), str(copy / name)], check=True)
        else:
            (copy / name).write_bytes(source.read_bytes())
    broken = copy / "plugins" / "filter" / "vss_writers.yml"
    broken.write_text(broken.read_text(encoding="utf-8").replace(
        "Id: {description: \"Writer id, lower case with braces.\"", "Id: {description: Writer id, lower case with braces."),
        encoding="utf-8")
    proc = lint(copy)
    assert proc.returncode != 0
    assert "vss_writers" in proc.stdout + proc.stderr
