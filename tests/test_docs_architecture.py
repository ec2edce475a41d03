"""docs/architecture.md against the code: every module of src/atrous is named in it, and the
module-level imports of src/atrous form no cycle but the one the page names."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "atrous"
PAGE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")

# the one deliberate module-level cycle (docs/architecture.md, "Layering and dependencies")
KNOWN_CYCLES = [["atrous.nn._fx_register", "atrous.nn.functional"]]


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (path, package)
    return out


def test_every_module_is_named_in_architecture_md() -> None:
    missing = [str(p.relative_to(SRC)) for p, _ in _modules().values()
               if f"`{p.relative_to(SRC).as_posix()}`" not in PAGE]
    assert not missing, f"docs/architecture.md does not name {missing}"


_IMPORT = re.compile(r"^(?:from\s+(\.*[\w.]*)\s+import\s+(\([^)]*\)|[^\n]*)|import\s+([^\n]*))",
                     re.M)


def _top_level_imports(name: str, path: Path, package: bool, mods: set[str]) -> set[str]:
    """Modules of atrous that ``name`` imports at module level: the ``import`` / ``from``
    statements at column 0 (indented ones, in functions or ``TYPE_CHECKING`` blocks, run later
    or never; ast.parse would cost 0.4 s here, and no module imports in a top-level ``if`` or
    ``try``)."""
    found: set[str] = set()
    here = name.split(".") if package else name.split(".")[:-1]
    for frm, names, plain in _IMPORT.findall(path.read_text(encoding="utf-8")):
        if plain:
            found.update(m.split(" as ")[0].strip() for m in plain.split(","))
            continue
        dots = len(frm) - len(frm.lstrip("."))
        base = frm if not dots else ".".join(
            here[: len(here) - dots + 1] + ([frm[dots:]] if frm[dots:] else []))
        names = re.sub(r"#[^\n]*", "", names).strip().strip("()")
        words = [w.split(" as ")[0].strip() for w in names.split(",")]
        subs = {f"{base}.{w}" for w in words if w} & mods
        found.update(subs or {base})
    return (found & mods) - {name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def test_module_level_imports_have_no_cycle_but_the_known_one() -> None:
    mods = _modules()
    graph = {m: _top_level_imports(m, p, pkg, set(mods)) for m, (p, pkg) in mods.items()}
    assert _cycles(graph) == KNOWN_CYCLES
    assert "atrous._coverage_raw" in graph["atrous._gridding"]  # the walk sees relative imports


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
