"""Write ``signatures.json``: the documented signature of every cmdlet the collection could call.

``python -m ps_signatures.generate`` (from ``tools/``, or ``PYTHONPATH=tools``) reads the cmdlet reference
pages of the Microsoft documentation repositories below from local git copies and writes
``tools/ps_signatures/signatures.json``. See docs/powershell-checks.md.

- ``--repo OWNER/NAME=PATH`` names a local copy (a clone or a bare mirror) of a source repository; without
  it the copy is looked for as ``$PS_SIGNATURES_MIRRORS/OWNER+NAME/repo`` (default ``/work/.mirror``, where
  the project's ``fetch`` tool puts it) and then ``OWNER+NAME`` and ``NAME`` there.
- The pages are read at the copy's HEAD, and that commit is recorded in the file; ``--pinned`` reads them
  at the commits the existing file records instead (what the test of the committed file does).
- ``--check`` writes nothing and exits 1 when the file would change; ``--notes`` prints where a page's
  SYNTAX and PARAMETERS sections disagree (docs/powershell-checks.md says which reading wins).
"""
import argparse
import json
import os
import subprocess
import sys

from ps_signatures import pages

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNATURES = os.path.join(HERE, "signatures.json")
DEFAULT_MIRRORS = "/work/.mirror"

HOSTS = ["Windows Server 2016", "Windows Server 2019", "Windows Server 2022", "Windows Server 2025"]

# What is read: per repository, its docsets (folder, and the supported hosts the docset describes) and the
# modules (sub-folders) read in each.
SOURCES = [
    {
        "repository": "MicrosoftDocs/windows-powershell-docs",
        "docsets": {
            "winserver2016-ps": {"path": "docset/winserver2016-ps", "hosts": ["Windows Server 2016"]},
            "winserver2019-ps": {"path": "docset/winserver2019-ps", "hosts": ["Windows Server 2019"]},
            "winserver2022-ps": {"path": "docset/winserver2022-ps", "hosts": ["Windows Server 2022"]},
            "winserver2025-ps": {"path": "docset/winserver2025-ps", "hosts": ["Windows Server 2025"]},
        },
        "modules": ["Hyper-V", "FailoverClusters", "Storage"],
    },
    {
        "repository": "MicrosoftDocs/PowerShell-Docs",
        # Windows PowerShell 5.1 is what Ansible runs modules in on every supported host.
        "docsets": {"powershell-5.1": {"path": "reference/5.1", "hosts": HOSTS}},
        "modules": [
            "Microsoft.PowerShell.Core",
            "Microsoft.PowerShell.Management",
            "Microsoft.PowerShell.Security",
            "Microsoft.PowerShell.Diagnostics",
            "Microsoft.PowerShell.Utility",
            "CimCmdlets",
        ],
    },
]

ABOUT = ("Cmdlet signatures read from Microsoft's cmdlet reference pages by tools/ps_signatures/generate.py; "
         "do not edit by hand (docs/powershell-checks.md).")

FORMAT = {
    "cmdlets": "'Module\\\\Cmdlet' -> variants; a variant is the signature shared by the docsets it lists",
    "parameters": "name -> {type, switch, aliases[, remaining: ValueFromRemainingArguments]}",
    "sets": "parameter set -> {parameter: [mandatory, position or null when named, pipeline input]}; "
            "a provider's dynamic parameters are in sets named '<set> - <provider> provider'",
    "outputs": "the type names of the page's OUTPUTS section",
}


class SourceError(RuntimeError):
    """A source repository or commit that cannot be read."""


def git(repo, *args, data=None):
    proc = subprocess.run(["git", "-C", repo, *args], input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SourceError(f"git -C {repo} {' '.join(args)}: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout


def find_repo(repository, given=None, mirrors=None):
    """The local git directory of ``repository`` (``OWNER/NAME``), or None."""
    if given and repository in given:
        return given[repository]
    mirrors = mirrors or os.environ.get("PS_SIGNATURES_MIRRORS") or DEFAULT_MIRRORS
    owner, name = repository.split("/")
    for candidate in (os.path.join(mirrors, f"{owner}+{name}", "repo"), os.path.join(mirrors, f"{owner}+{name}"),
                      os.path.join(mirrors, name)):
        if os.path.isdir(candidate):
            return candidate
    return None


def has_commit(repo, commit):
    try:
        git(repo, "cat-file", "-e", f"{commit}^{{commit}}")
    except SourceError:
        return False
    return True


def read_pages(repo, commit, folders):
    """``{path: text}`` of the ``.md`` files directly in ``folders`` at ``commit``."""
    listing = git(repo, "ls-tree", "--name-only", commit, *[f.rstrip("/") + "/" for f in folders])
    paths = [p for p in listing.decode("utf-8").splitlines() if p.endswith(".md")]
    if not paths:
        return {}
    out = git(repo, "cat-file", "--batch", data="".join(f"{commit}:{p}\n" for p in paths).encode("utf-8"))
    texts, pos = {}, 0
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if len(header) < 3 or header[1] != b"blob":
            raise SourceError(f"{repo}: cannot read {commit}:{path}")
        size = int(header[2])
        texts[path] = out[end + 1:end + 1 + size].decode("utf-8", "replace")
        pos = end + 1 + size + 1
    return texts


def signatures(commits, repos):
    """The table as a dict, read at ``commits`` (``{repository: commit}``) from ``repos`` (``{repository:
    git dir}``), and the notes on the pages (``[(path, note)]``)."""
    table, names, notes = {}, {}, []
    for source in SOURCES:
        repository = source["repository"]
        repo, commit = repos[repository], commits[repository]
        for docset, info in source["docsets"].items():
            folders = [f"{info['path']}/{module}" for module in source["modules"]]
            for path, text in sorted(read_pages(repo, commit, folders).items()):
                try:
                    page = pages.parse_page(text)
                except pages.PageError as exc:
                    if "not a cmdlet page" not in str(exc):
                        notes.append((path, str(exc)))
                    continue
                notes.extend((path, note) for note in page.pop("notes"))
                key = f"{page.pop('module')}\\{page.pop('name')}"
                # Names are case-insensitive (Get-VmNetworkAdapterIsolation in 2016, Get-VMNetworkAdapterIsolation
                # in 2022): one entry, spelt as the newest docset spells it.
                names[key.lower()] = key
                variants = table.setdefault(key.lower(), [])
                for variant in variants:
                    if {k: v for k, v in variant.items() if k != "docsets"} == page:
                        variant["docsets"].append(docset)
                        break
                else:
                    variants.append({"docsets": [docset], **page})
    return {names[key]: table[key] for key in sorted(table)}, notes


def document(commits, repos):
    """The whole ``signatures.json`` content as a dict, and the notes."""
    table, notes = signatures(commits, repos)
    sources = [{"repository": s["repository"], "commit": commits[s["repository"]], "docsets": s["docsets"],
                "modules": s["modules"]} for s in SOURCES]
    return {"about": ABOUT, "format": FORMAT, "hosts": HOSTS, "sources": sources, "cmdlets": table}, notes


def dumps(value, indent=0, width=110):
    """JSON with one line per value that fits in ``width`` characters: short to diff, short to read."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or len(flat) + indent <= width or not value:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, list):
        items = [pad + dumps(v, indent + 1, width) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    items = [pad + json.dumps(k, ensure_ascii=False) + ": " + dumps(v, indent + 1, width) for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def load(path=SIGNATURES):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def pinned_commits(path=SIGNATURES):
    """``{repository: commit}`` recorded in the committed file."""
    return {s["repository"]: s["commit"] for s in load(path)["sources"]}


def render(commits, repos):
    doc, notes = document(commits, repos)
    return dumps(doc) + "\n", notes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ps_signatures.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=PATH",
                        help="a local git copy of a source repository")
    parser.add_argument("--mirrors", help="where to look for the copies (default $PS_SIGNATURES_MIRRORS or /work/.mirror)")
    parser.add_argument("--output", default=SIGNATURES)
    parser.add_argument("--pinned", action="store_true", help="read at the commits the existing file records")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file would change; write nothing")
    parser.add_argument("--notes", action="store_true", help="print where SYNTAX and PARAMETERS disagree")
    args = parser.parse_args(argv)

    given = dict(item.split("=", 1) for item in args.repo)
    repos, commits = {}, {}
    pinned = pinned_commits(args.output) if args.pinned else {}
    for source in SOURCES:
        repository = source["repository"]
        repo = find_repo(repository, given, args.mirrors)
        if repo is None:
            parser.error(f"no local copy of {repository}: pass --repo {repository}=PATH (a clone or mirror)")
        repos[repository] = repo
        commit = pinned.get(repository) or git(repo, "rev-parse", "HEAD").decode().strip()
        if not has_commit(repo, commit):
            parser.error(f"{repo} does not have commit {commit} of {repository}")
        commits[repository] = commit

    text, notes = render(commits, repos)
    if args.notes:
        for path, note in notes:
            print(f"{path}: {note}")
    current = None
    if os.path.exists(args.output):
        with open(args.output, encoding="utf-8") as handle:
            current = handle.read()
    if args.check:
        if current != text:
            print(f"{args.output} is not what the pages at {commits} give; regenerate it", file=sys.stderr)
            return 1
        return 0
    if current != text:
        with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    cmdlets = json.loads(text)["cmdlets"]
    print(f"{args.output}: {len(cmdlets)} cmdlets, {sum(len(v) for v in cmdlets.values())} variants, "
          f"{len(notes)} notes; commits {commits}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
