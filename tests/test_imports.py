"""The package's import graph has no circles, and no module imports another of the
package inside a function (the way a circle is usually hidden)."""

import ast
import subprocess
import sys
from pathlib import Path

import vaejax

ROOT = Path(vaejax.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _targets(node, modules) -> list[str]:
    """The package's modules an import statement loads (a submodule where it names one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
        return []
    out = []
    for alias in node.names:
        sub = f"{node.module}.{alias.name}"
        if sub in modules:
            out.append(sub)
        elif node.module in modules:
            out.append(node.module)
    return out


def _graph():
    modules = _modules()
    graph, inner = {}, []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        graph[name] = set()
        for node in tree.body:
            for target in _targets(node, modules):
                graph[name].add(target)
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if _targets(node, modules):
                        inner.append(f"{name}.{func.name}")
    return graph, inner


def test_no_module_of_the_package_is_imported_inside_a_function():
    _, inner = _graph()
    assert inner == []


def test_the_import_graph_has_no_cycle():
    graph, _ = _graph()
    # a package's __init__ may import its own submodules; a submodule's import of
    # its package is not an edge back (it names a submodule, or the package's names)
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_importing_every_experiments_module_defines_no_flag():
    # Tests import several entry points into one process: a flag defined at import
    # (two modules' --seed) would stop the second import with DuplicateFlagError.
    code = ("import importlib, pathlib; from absl import app, flags, logging; "
            "import orbax.checkpoint; "  # defines flags of its own
            "before = set(flags.FLAGS); "
            "[importlib.import_module('experiments.' + p.stem) "
            " for p in sorted(pathlib.Path('experiments').glob('*.py'))]; "
            "print(sorted(set(flags.FLAGS) - before))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT.parent, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
