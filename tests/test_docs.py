"""The README is a short front page whose two commands stay first, and every relative link of the docs resolves."""
import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]
FENCED = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DEMO = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[eval]' && bigcodec demo"
TESTS = ("python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
         "python -m pytest -q -n 2 --dist loadfile tests")


def anchors(path: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (lower case, punctuation dropped, spaces to
    hyphens, a repeated heading numbered)."""
    found, count = set(), {}
    for heading in re.findall(r"^#+ +(.+?) *$", FENCED.sub("", open(path).read()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(f"{slug}-{count[slug]}" if slug in count else slug)
        count[slug] = count.get(slug, 0) + 1
    return found


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(FENCED.sub("", open(page).read())):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            path = os.path.normpath(os.path.join(os.path.dirname(page), file)) if file else page
            if not os.path.exists(path):
                broken.append(f"{os.path.relpath(page, ROOT)}: {target} (no such file)")
            elif anchor and path.endswith(".md") and anchor not in anchors(path):
                broken.append(f"{os.path.relpath(page, ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_readme_is_a_front_page_that_starts_with_the_two_commands():
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert readme.count("\n") <= 220, "README.md is the front page: move details to docs/"
    blocks = re.findall(r"^```(?:bash)?\n(.*?)^```", readme, re.S | re.M)
    assert [b.strip() for b in blocks[:2]] == [DEMO, TESTS]
    assert TESTS in open(os.path.join(ROOT, ".ci", "run")).read()  # CI runs exactly the README's test command
