"""Sphinx extension: bibliography labels in author-year form ("Karras et al., 2020").

The book cites in author-year style (`bibtex_reference_style: author_year`); pybtex's built-in
styles label the bibliography with numbers or alpha codes, so the list would not match the
citations. This registers the pybtex style `authoryear` (the `plain` formatting with these labels).
"""

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _authors(entry) -> str:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in persons]
    if len(names) > 2:
        return f"{names[0]} et al."
    return " and ".join(names) or entry.key


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        """Yield "Author, year" labels, with a/b suffixes where two entries would share one."""
        entries = list(sorted_entries)
        labels = [f"{_authors(e)}, {e.fields.get('year', 'n.d.')}" for e in entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = "authoryear"


def setup(app):
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
