"""The import graph of the package: no cycles, and every import goes down the layers of docs/architecture.md.

Each module belongs to a layer (by its top-level name in the package, or, for the command-line modules that
live inside packages, by its own name); a module may import modules of lower layers, and of its own package.
Command-line modules form the top layer and may import anything, each other included. Imports inside
functions count: they are dependencies all the same, only deferred.
"""
import ast
import pathlib

import bigcodec_jax

PACKAGE = pathlib.Path(bigcodec_jax.__file__).parent
ROOT = PACKAGE.name

# Lowest first. A top-level module or package not listed here fails test_every_module_has_a_layer.
LAYERS = (
    {"errors", "audio", "codes", "nn"},   # foundations: no knowledge of BigCodec's architecture or files
    {"codec"},                            # the generator and discriminators, described once
    {"xcodec2"},                          # X-Codec2 and NeuCodec: BigCodec's encoder beside a semantic one
    {"model_configs"},                    # the config of any family, read from a file
    {"io"},                               # every file and path (codes files carry the codec's config)
    {"checkpoints", "compile_cache", "distributed"},
    {"streaming"},                        # the stream classes the API hands out
    {"api"},
    {"family_api"},                       # X-Codec2 and NeuCodec, the same surface; load_codec of any family
    {""},                                 # the package's __init__: BigCodec
    {"data"},
    {"inference"},
    {"evaluation"},
    {"training"},
    {"configs"},                          # configs/<name>.py, shipped as bigcodec_jax.configs
    {"commands", "__main__", "convert", "evaluate", "demo", "launch", "benchmark"},  # command-line tools
)
COMMAND_MODULES = {"inference.cli", "training.cli", "data.make_corpus"}  # tools that live in their package


def modules() -> dict[str, pathlib.Path]:
    """Dotted name below the package ('' for its __init__) -> file, the configs folder included."""
    found = {}
    for folder in (PACKAGE, PACKAGE / "configs"):  # configs is a link, which the walk does not enter
        for path in folder.rglob("*.py"):
            parts = (path.relative_to(folder).with_suffix("").parts if folder == PACKAGE
                     else ("configs", *path.relative_to(folder).with_suffix("").parts))
            if parts and parts[0] == "configs" and folder == PACKAGE:
                continue
            name = ".".join(p for p in parts if p != "__init__")
            found[name] = path
    return found


def imports(path: pathlib.Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that the module `name` at `path` imports (anywhere in it): `from X import y` is
    X.y when that is a module, else X; relative imports are resolved against the module's package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join([ROOT, *package.split(".")][:len(package.split(".")) + 2 - node.level])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            targets = [f"{base}.{alias.name}" if _relative(f"{base}.{alias.name}") in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target == ROOT or target.startswith(ROOT + "."):
                module = _relative(target)
                while module not in known and module:  # `import bigcodec_jax.a.b.c` of a name inside a module
                    module = module.rpartition(".")[0]
                found.add(module)
    return found - {name}


def _relative(dotted: str) -> str:
    return dotted[len(ROOT) + 1:] if dotted != ROOT else ""


def layer(name: str) -> int:
    if name in COMMAND_MODULES:
        return len(LAYERS) - 1
    top = name.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, name, set(found)) for name, path in found.items()}


def test_every_module_has_a_layer():
    found = modules()
    assert {"", "api", "codec.model", "io.paths", "inference.cli", "configs.base"} <= set(found)
    listed = set().union(*LAYERS)
    assert {name for name in found if name.split(".")[0] not in listed} == set()


def test_imports_go_down_the_layers():
    upward = []
    for name, targets in graph().items():
        for target in targets:
            same_package = name and target.split(".")[0] == name.split(".")[0]
            top = layer(name) == len(LAYERS) - 1
            if not (layer(target) < layer(name) or same_package or top):
                upward.append(f"{name or ROOT} (layer {layer(name)}) imports {target or ROOT} (layer {layer(target)})")
    assert upward == []


def test_no_import_cycles():
    edges = graph()
    cycles, state = [], {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for target in sorted(edges.get(name, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [name, target]))
            elif target not in state:
                visit(target, stack + [name])
        state[name] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [])
    assert cycles == []


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """An upward import and a cycle, in a throwaway graph, are both found."""
    fake = {"nn.layer": {"codec.model"}, "codec.model": {"nn.layer"}}
    monkeypatch.setattr(__import__(__name__), "graph", lambda: fake)
    for check in (test_imports_go_down_the_layers, test_no_import_cycles):
        try:
            check()
        except AssertionError:
            continue
        raise AssertionError(f"{check.__name__} passed on a graph with an upward import and a cycle")
