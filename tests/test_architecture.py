"""docs/architecture.md's file tree is made from the modules' own first docstring lines, so it cannot drift
from the code; and no module is longer than 300 lines without saying why in its docstring.

After adding, renaming or redescribing a module, rewrite the tree:

    python tests/test_architecture.py
"""
import ast
import os
import pathlib
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"
START, END = "<!-- tree: made by tests/test_architecture.py -->", "<!-- end of tree -->"
FOLDERS = ("bigcodec_jax", "configs")
NAME_WIDTH, LINE_WIDTH = 26, 112
MAX_LINES = 300


def summary(path: pathlib.Path) -> str:
    """The first sentence-line of a module's docstring (what the module is for)."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ").split(". ")[0].rstrip(".")


def entries(folder: pathlib.Path, depth: int) -> list[tuple[str, str]]:
    """(indented name, summary) for a folder's modules and subpackages, in name order, packages described by
    their __init__."""
    rows = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith(("_", ".")) or path.is_symlink():
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            rows.append(("  " * depth + path.name + "/", summary(path / "__init__.py")))
            rows += entries(path, depth + 1)
        elif path.suffix == ".py":
            rows.append(("  " * depth + path.name, summary(path)))
    return rows


def tree() -> str:
    lines = []
    for name in FOLDERS:
        folder = ROOT / name
        init = folder / "__init__.py"
        rows = [(name + "/", summary(init) if init.exists() else "")] + entries(folder, 1)
        for label, text in rows:
            wrapped = textwrap.wrap(text, LINE_WIDTH - NAME_WIDTH) or [""]
            if len(label) >= NAME_WIDTH:
                lines.append(label)
                lines += [" " * NAME_WIDTH + w for w in wrapped]
            else:
                lines.append(label.ljust(NAME_WIDTH) + wrapped[0])
                lines += [" " * NAME_WIDTH + w for w in wrapped[1:]]
    return "\n".join(line.rstrip() for line in lines)


def block() -> str:
    return f"{START}\n```\n{tree()}\n```\n{END}"


def test_the_architecture_tree_is_made_from_the_modules():
    page = PAGE.read_text()
    assert START in page and END in page, f"{PAGE} has no generated tree (run python tests/test_architecture.py)"
    current = page[page.index(START):page.index(END) + len(END)]
    assert current == block(), "docs/architecture.md's tree is out of date: run python tests/test_architecture.py"


def test_no_module_is_over_300_lines_without_a_reason():
    long = []
    for path in sorted((ROOT / "bigcodec_jax").rglob("*.py")):
        lines = len(path.read_text().splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and f"over {MAX_LINES} lines" not in doc.lower():
            long.append(f"{path.relative_to(ROOT)}: {lines} lines, and its docstring does not say why "
                        f"('over {MAX_LINES} lines because ...')")
    assert not long, "\n".join(long)


def test_the_tree_names_every_module():
    text = tree()
    for path in (ROOT / "bigcodec_jax").rglob("*.py"):
        if not path.name.startswith("_"):
            assert f" {path.name}" in text or text.startswith(path.name), path


if __name__ == "__main__":
    page = PAGE.read_text()
    if START in page:
        page = page[:page.index(START)] + block() + page[page.index(END) + len(END):]
    else:
        sys.exit(f"{PAGE} has no '{START}' ... '{END}' block to fill: add the two markers where the tree goes")
    PAGE.write_text(page)
    print(f"wrote the tree of {len(tree().splitlines())} lines into {os.path.relpath(PAGE)}")
