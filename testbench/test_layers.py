"""One import root and layers that point one way (llmaccel/__init__.py lists them):

    1 golden      2 generators      3 host      4 testbench      5 the application (llmaccel/)

A module imports only its own layer and the ones below it, except that host/ stands on golden/
alone (the driver needs the register maps and layouts, never the hardware); the tests
(testbench/test_*.py) sit above everything, since they test every layer. golden/ and host/ never
import Amaranth (the driver runs on the board's Python without it). Every import goes through `llmaccel`: a bare `generators`
or `golden` would only resolve from the repository's root, by accident. The imports are read with
`ast`, so one inside a function counts too."""
import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"golden": "llmaccel.golden", "generators": "llmaccel.generators", "host": "llmaccel.host",
           "testbench": "llmaccel.testbench", "llmaccel": "llmaccel"}
LAYERS = {"llmaccel.golden": 1, "llmaccel.generators": 2, "llmaccel.host": 3,
          "llmaccel.testbench": 4, "llmaccel": 5}
TESTS = 6
LAYER_NAMES = {1: "golden", 2: "generators", 3: "host", 4: "testbench", 5: "application",
               TESTS: "tests"}
BARE = {"golden", "generators", "host", "testbench"}
NO_AMARANTH = {1, 3}
# the layers each layer may import: its own and those below, host only golden
MAY_IMPORT = {1: {1}, 2: {1, 2}, 3: {1, 3}, 4: {1, 2, 3, 4}, 5: {1, 2, 3, 4, 5},
              TESTS: {1, 2, 3, 4, 5}}


def layer_of(module: str) -> int | None:
    """The layer of a module under llmaccel (None for anything else)."""
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    package = FOLDERS[rel.parts[0]]
    parts = [*rel.parts[1:-1], *([] if rel.stem == "__init__" else [rel.stem])]
    return ".".join([package, *parts])


def own_layer(path: Path) -> int:
    if path.parent.name == "testbench" and (path.name.startswith("test_") or path.name == "conftest.py"):
        return TESTS
    return layer_of(module_name(path))


def imports_of(source: str, module: str, is_package: bool):
    """(line, imported module) for every import in a module's source, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield node.lineno, target
            for alias in node.names:   # `from llmaccel import flows` imports a module too
                yield node.lineno, f"{target}.{alias.name}"


def violations(source: str, path_label: str, module: str, layer: int, is_package: bool):
    found = []
    for line, target in imports_of(source, module, is_package):
        top = target.split(".")[0]
        if top in BARE:
            found.append(f"{path_label}:{line}: imports {target!r}: go through llmaccel "
                         f"(llmaccel.{target})")
        if top == "amaranth" and layer in NO_AMARANTH:
            found.append(f"{path_label}:{line}: {LAYER_NAMES[layer]} imports {target!r}: "
                         "Amaranth belongs to generators/")
        target_layer = layer_of(target)
        if target_layer is not None and target_layer not in MAY_IMPORT[layer]:
            where = "above it" if target_layer > layer else "that it stands beside, not on"
            found.append(f"{path_label}:{line}: {LAYER_NAMES[layer]} imports {target!r} from "
                         f"the {LAYER_NAMES[target_layer]} layer, {where}")
    return found


def project_modules():
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path


def test_layers_point_one_way():
    found, modules, imports = [], 0, 0
    for path in project_modules():
        source = path.read_text()
        module = module_name(path)
        modules += 1
        imports += sum(1 for _ in imports_of(source, module, path.name == "__init__.py"))
        found += violations(source, str(path.relative_to(ROOT)), module, own_layer(path),
                            path.name == "__init__.py")
    print(f"{modules} modules, {imports} imports read: {len(found)} against the layers")
    assert modules > 80
    assert not found, "\n".join(found)


@pytest.mark.parametrize("folder, source, why", [
    ("host", "from llmaccel.generators.top import REGISTERS\n", "beside, not on"),
    ("host", "from llmaccel.testbench.runner import build\n", "above it"),
    ("golden", "import amaranth\n", "Amaranth belongs"),
    ("host", "from amaranth.lib import wiring\n", "Amaranth belongs"),
    ("generators", "from llmaccel.testbench import runner\n", "generators imports"),
    ("generators", "def f():\n    from ..flows import synth\n", "from the application layer"),
    ("testbench", "from llmaccel.perf.cycle_model import top_cycles\n", "application layer"),
    ("testbench", "from testbench import runner\n", "go through llmaccel"),
    ("golden", "from golden.bfp import QK\n", "go through llmaccel"),
])
def test_checker_catches(folder, source, why):
    """The checker itself can fail: each of these breaks a rule."""
    module = FOLDERS[folder] + ".example"
    found = violations(source, f"{folder}/example.py", module, layer_of(module), False)
    assert any(why in f for f in found), found


def test_checker_allows_downward_and_tests():
    assert not violations("from llmaccel.golden.bfp import QK\nfrom .runner import build\n",
                          "testbench/x.py", "llmaccel.testbench.x", 4, False)
    assert not violations("from llmaccel.cli import main\n", "testbench/test_x.py",
                          "llmaccel.testbench.test_x", TESTS, False)


def _blocking_amaranth(code: str) -> str:
    return ("import sys\n"
            "class NoAmaranth:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'amaranth' or name.startswith('amaranth.'):\n"
            "            raise ImportError(f'{name} is blocked by the test')\n"
            "sys.meta_path.insert(0, NoAmaranth())\n" + code)


def test_host_imports_without_amaranth():
    """The driver and its back ends, and every golden model, import with Amaranth unimportable."""
    modules = [module_name(p) for folder in ("host", "golden")
               for p in sorted((ROOT / folder).glob("*.py"))]
    code = _blocking_amaranth(
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "try:\n"
        "    import amaranth\n"
        "except ImportError:\n"
        "    print('amaranth blocked;', len(sys.modules), 'modules loaded')\n"
        "else:\n"
        "    raise SystemExit('the block did not hold')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT.parent)
    assert run.returncode == 0, run.stderr
    assert "amaranth blocked" in run.stdout
    assert "llmaccel.host.driver" in modules


def test_installed_distribution_has_one_top_level_name(tmp_path):
    """`pip install` of a wheel built from the project puts one import name, llmaccel, into
    site-packages, and the driver imports from there."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w",
                          str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    wheel = next((tmp_path / "dist").glob("llmaccel-*.whl"))
    site = tmp_path / "site"
    run = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site),
                          str(wheel)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in site.iterdir()
                   if not p.name.endswith(".dist-info") and p.name != "bin")
    print("installed top-level names:", names)
    assert names == ["llmaccel"]
    top_level = next(site.glob("llmaccel-*.dist-info")) / "top_level.txt"
    assert top_level.read_text().split() == ["llmaccel"]
    for sub in ("golden", "generators", "host", "testbench", "flows", "perf"):
        assert (site / "llmaccel" / sub / "__init__.py").exists(), sub
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", _blocking_amaranth(
        "import llmaccel, llmaccel.host.driver\nprint(llmaccel.__file__)")],
        capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(str(site))


def test_editable_install_has_one_top_level_name():
    """The installed (editable, `make install`) distribution declares llmaccel alone."""
    from importlib.metadata import distribution
    dist = distribution("llmaccel")
    assert dist.read_text("top_level.txt").split() == ["llmaccel"]
    assert [e.value for e in dist.entry_points if e.name == "llmaccel"] == ["llmaccel.cli:main"]
