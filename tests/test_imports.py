"""The benchmarks stay outside the library: no module of bigcodec_jax imports bigcodec_jax.benchmark (only the
benchmark package itself does, and the `bigcodec` dispatcher names it as a string, imported when run)."""
import ast
import pathlib

import bigcodec_jax

PACKAGE = pathlib.Path(bigcodec_jax.__file__).parent
BENCHMARK = "bigcodec_jax.benchmark"
EXCLUDED = {PACKAGE / "benchmark", PACKAGE / "commands.py"}


def package_of(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).parts[:-1])


def imported_modules(source: str, package: str) -> set[str]:
    """Every module `source` (a module of `package`) imports, absolute: `import a.b`, `from a import b` (as a and
    a.b), relative imports resolved against `package`, and `importlib.import_module("...")` with a literal name."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(node.args[0].value)
    return names


def library_modules() -> list[pathlib.Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py"))
            if not any(p == excluded or excluded in p.parents for excluded in EXCLUDED)]


def test_no_library_module_imports_the_benchmarks():
    modules = library_modules()
    assert PACKAGE / "inference" / "cli.py" in modules and len(modules) > 50  # the walk sees the library
    offenders = {}
    for path in modules:
        found = [m for m in imported_modules(path.read_text(), package_of(path))
                 if m == BENCHMARK or m.startswith(BENCHMARK + ".")]
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert not offenders


def test_the_import_parser_sees_every_form():
    source = ("import bigcodec_jax.benchmark.infer\nfrom bigcodec_jax import benchmark\nfrom ..benchmark import suite\n"
              "import importlib\nimportlib.import_module('bigcodec_jax.benchmark.e2e')\n")
    assert package_of(PACKAGE / "inference" / "cli.py") == "bigcodec_jax.inference"
    assert {"bigcodec_jax.benchmark.infer", "bigcodec_jax.benchmark", "bigcodec_jax.benchmark.suite",
            "bigcodec_jax.benchmark.e2e"} <= imported_modules(source, "bigcodec_jax.inference")
