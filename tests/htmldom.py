"""Read an HTML page in tests: its elements and its text (the report tests, unit and in the browser)."""
from html.parser import HTMLParser


class Dom(HTMLParser):
    """The elements of a document as ``[(tag, attrs)]``, and its text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements, self.texts = [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.texts.append(data)

    @property
    def text(self):
        return "".join(self.texts)

    def find(self, tag, css=None):
        """The attributes of each ``tag`` element, of those with class ``css`` when given."""
        return [attrs for t, attrs in self.elements if t == tag and (css is None or css in (attrs.get("class") or "").split())]


def figure(page, moment):
    """The placement figure of ``moment`` (``now``, ``before``, ``after``) of a report page."""
    return Dom(page.split(f'data-moment="{moment}"', 1)[1].split("</figure>", 1)[0])
