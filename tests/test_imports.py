"""The package's layers: the model core never imports the experiments, and no module imports itself
back through others. Imports are read from the source (inside functions too), not executed."""
import ast
from pathlib import Path

import pytest

import gausslib
from gausslib import problems

ROOT = Path(gausslib.__file__).parent
# The experiment layer: problem specs, records, the CLIs and what is built on them (the benchmarks
# time the studies' problems).
EXPERIMENTS = ("gausslib.problems", "gausslib.results", "gausslib.study", "gausslib.train", "gausslib.paper",
               "gausslib.pathological", "gausslib.benchmarks")
# The one import that runs back up: ``python -m gausslib.bench`` (the timing helpers' CLI) finds the
# benchmark modules to run.
ALLOWED = {("gausslib.bench", "gausslib.benchmarks")}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Return the gausslib modules that ``path`` (module ``name``) imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # "from package import module" imports the module; "from module import name" the module
            out |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return {m for m in out if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def _is_experiment(module: str) -> bool:
    return any(module == e or module.startswith(e + ".") for e in EXPERIMENTS)


def test_the_core_never_imports_the_experiments():
    bad = {m: sorted(d for d in deps if _is_experiment(d) and (m, d) not in ALLOWED)
           for m, deps in _graph().items() if not _is_experiment(m)}
    assert not {m: d for m, d in bad.items() if d}, "core modules importing the experiment layer"


def test_no_import_circle():
    graph = _graph()
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, f"import circles: {cycles}"


@pytest.mark.parametrize("name", problems.names())
def test_every_registered_problem_is_a_complete_spec(name):
    spec = problems.get(name)
    for attr in ("NAME", "DEFAULT_GENERATOR", "TV_GRID", "Setting", "build", "add_arguments", "settings"):
        assert hasattr(spec, attr), f"problem {name!r} lacks {attr}"
    assert spec.NAME == name and list(problems.record(spec.Setting()))[-1] == "targets"


def test_the_names_earlier_issues_use_still_import():
    """Notebooks and outside checks written before the problem registry import these."""
    from gausslib.layers import GaussianizationLayers, fastica, lambert_gaussianize, yeo_johnson  # noqa: F401
    from gausslib.pathological import VARIANTS, figure, find, plausibility, repair  # noqa: F401
    from gausslib.study import (ABLATION, NOISE_SEED, RESULTS, TV_GRID, build_problem, cells,  # noqa: F401
                                parser, read_records, select_tv_lam, settings, summarize, summary_rows, targets)
    from gausslib.train import atomic_save, dequantize, save_grid  # noqa: F401

    assert set(ABLATION) == {"zca", "ica", "ica+yj", "ica+lambert"} and TV_GRID["mri"] == [0.003, 0.01, 0.03, 0.1]
    assert GaussianizationLayers(ica=False, lambert=False).steps[1].name == "yeo_johnson"
