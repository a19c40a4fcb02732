"""Windows paths as the controller reasons about them: case-insensitive, backslashes, no trailing slash."""


def normalize(path):
    """``c:/ClusterStorage/Volume1/`` -> ``C:\\ClusterStorage\\Volume1``, for comparing, not for display."""
    text = str(path).replace("/", "\\")
    while len(text) > 3 and text.endswith("\\"):
        text = text[:-1]
    return text.upper()


def is_under(path, folder):
    """True when ``path`` is ``folder`` or inside it (``Volume10`` is not inside ``Volume1``)."""
    p, f = normalize(path), normalize(folder)
    return p == f or p.startswith(f if f.endswith("\\") else f + "\\")


def parent(path):
    """The folder that holds ``path`` (as written, with backslashes)."""
    text = str(path).replace("/", "\\").rstrip("\\")
    head, sep = text.rpartition("\\")[:2]
    if not sep:
        return text
    return head + "\\" if head.endswith(":") else head
