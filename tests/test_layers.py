"""The package's layers import only downward, computed from the source, and an import-graph
tool (grimp) resolves the package the same way Python does."""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "nas"
#: Bottom to top. A module may import its own layer and the layers below it; the package's
#: root modules (errors, the TensorFlow import) sit under every layer.
LAYERS = ("spaces", "model", "hls", "estimators", "search", "app")
ROOT = {"nas.errors", "nas.environment", "nas._tf", "nas.stop"}
#: The package itself is the public face: it re-exports the Python API (``nas.app.api``), on
#: first use, so that ``import nas`` stays cheap; it sits above every layer, as __main__ does.
FACADE = {"nas", "nas.__main__"}
#: Third-party modules whose import is deferred on purpose (slow, or only some commands need
#: them): an import inside a function must be of one of these, or of a module that imports them.
HEAVY = ("tensorflow", "tf_keras", "qkeras", "tensorflow_model_optimization", "hls4ml", "da4ml",
         "h5py", "sklearn", "pyts", "dask", "optuna_dashboard", "pandas", "nas._tf",
         "cocotb_tools",  # the stream IP's simulation, only in nas deploy
         "pynq")  # the board's driver: pynq exists on the board only


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether the import sits inside a function) of every import."""
    tree = ast.parse(path.read_text())
    inside = {id(node) for function in ast.walk(tree)
              if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = _absolute(path, node.module, node.level)
            # "from nas.spaces import wcd_pulses" imports the module nas.spaces.wcd_pulses
            found += [(_submodule(f"{module}.{alias.name}") or module, id(node) in inside)
                      for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, id(node) in inside) for alias in node.names]
    return found


def _absolute(path: Path, module: str, level: int) -> str:
    """The absolute name of ``from <level dots>module`` in ``path`` (nas/hls/board/driver.py
    imports its sibling as ``.axis_packing``: the folder is copied to the board alone)."""
    if not level:
        return module
    package = module_name(path).split(".")
    package = package if path.name == "__init__.py" else package[:-1]
    return ".".join([*package[:len(package) - level + 1], module])


def _submodule(name: str) -> str | None:
    path = REPO / name.replace(".", "/")
    return name if path.with_suffix(".py").exists() or (path / "__init__.py").exists() else None


def source_graph() -> dict[str, set[str]]:
    """Module -> the ``nas`` modules it imports (anywhere in the file)."""
    return {module_name(path): {name for name, _ in imports(path) if name.split(".")[0] == "nas"}
            for path in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    if module in ROOT:
        return -1
    if module in FACADE:
        return len(LAYERS)
    return LAYERS.index(module.split(".")[1])


def test_every_folder_is_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS)


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{module} -> {target}" for module, targets in source_graph().items()
              for target in targets if layer(target) > layer(module)]
    assert upward == []


def test_no_folder_level_loop():
    edges = {(module.split(".")[1], target.split(".")[1])
             for module, targets in source_graph().items() for target in targets
             if not {module, target} & (ROOT | FACADE)}
    loops = [(a, b) for a, b in edges if a != b and (b, a) in edges]
    assert loops == []


def test_imports_inside_functions_only_defer_heavy_modules():
    graph = source_graph()

    def heavy(module: str, seen: frozenset = frozenset()) -> bool:
        if module.startswith(HEAVY):
            return True
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        if module in seen or not path.exists():
            return False
        return any(heavy(name, seen | {module}) for name, _ in imports(path))

    light = [f"{module_name(path)}: {name}" for path in PACKAGE.rglob("*.py")
             for name, inside in imports(path) if inside and not heavy(name)
             and not (module_name(path) == "nas" and name == "nas.app.api")]
    assert light == [], graph.keys()


def test_grimp_python_and_the_source_agree():
    import grimp

    graph = grimp.build_graph("nas")
    source = source_graph()
    assert graph.modules == set(source)
    for module, targets in source.items():
        assert targets == graph.find_modules_directly_imported_by(module), module
    probe = subprocess.run([sys.executable, "-c", "import nas.app.cli, nas; print(nas.__file__)"],
                           capture_output=True, text=True, cwd="/", check=True)
    assert Path(probe.stdout.strip()) == PACKAGE / "__init__.py"
