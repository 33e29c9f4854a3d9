"""The import graph keeps its layers (issue 12, ADR 0920).

Read from the source with ``ast`` (every ``import``, also inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency):

* the lower packages know nothing of the higher ones;
* ``orders`` does not call into ``programs`` (a purchase service above both does);
* no cycle between top-level packages (the composition roots — ``app``, ``cli``, ``worker``,
  ``models``… — sit above everything and may import anything);
* no module imports another module's private (``_name``) names.

Known breaks are listed below with the change that removes them; a listed break that is gone
fails too, so the lists only shrink.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import patron

SRC = Path(patron.__file__).resolve().parent
LOWER = frozenset({"core", "ledger", "members", "orders", "programs", "coupons"})
HIGHER = frozenset({"engagement", "analytics", "web", "portal", "checkout", "purchase"})
# Modules and packages that assemble the others (entry points, the table list, demo data).
COMPOSITION_ROOTS = frozenset(
    {"app", "cli", "worker", "models", "demo", "devtools", "server_cli", "backup_cli", "migrations"}
)
FORBIDDEN_PAIRS = frozenset({("orders", "programs")})

# Emptied by the purchase-service change (issue 12: orders no longer calls programs; ledger
# modules stop importing each other's private names); kept so a new break is named here, not
# waved through.
PURCHASE_SERVICE_BREAKS: frozenset[str] = frozenset()

# Breaks found with this test and not yet removed (each names what would remove it).
KNOWN_BREAKS = frozenset(
    {
        # coupons' API answers with checkout's quote shapes: the coupon preview belongs above
        # checkout (or the shared shapes below both).
        "patron.coupons.api -> patron.checkout.quote",
        "patron.coupons.api -> patron.checkout.schemas",
        "patron.coupons.schemas -> patron.checkout.schemas",
        # members reads orders for the funnel and the purchase summary while orders creates
        # members for anonymous buyers: members <-> orders.
        "patron.members.funnel -> patron.orders.models",
        "patron.members.merge -> patron.orders.models",
        "patron.members.summary -> patron.orders.models",
        # the session sweeper of tenancy also purges portal sessions: tenancy <-> portal.
        "patron.tenancy.tasks -> patron.portal.models",
        # campaign results use the uplift statistics of analytics, which reads campaigns.
        "patron.engagement.campaigns.results -> patron.analytics.uplift",
        # the channel callback pages render with the web package, which serves engagement.
        "patron.engagement.callbacks_api -> patron.web.auth",
        "patron.engagement.callbacks_api -> patron.web.rendering",
    }
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """module -> every ``patron...`` name it imports (``a.b`` modules, ``a.b.name`` for names)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found[module].update(a.name for a in node.names if a.name.startswith("patron."))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                if base == "patron" or base.startswith("patron."):
                    found[module].add(base)
                    found[module].update(f"{base}.{a.name}" for a in node.names)
    return found


IMPORTS = _imports()


def _top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def _edges() -> set[tuple[str, str]]:
    """(importer module, imported module) for imports that leave the importer's package."""
    modules = set(IMPORTS) | {_module_name(p) for p in SRC.rglob("*.py")}
    edges = set()
    for module, names in IMPORTS.items():
        for name in names:
            target = name if name in modules else name.rpartition(".")[0]
            if target in modules and _top(target) != _top(module):
                edges.add((module, target))
    return edges


EDGES = _edges()


def _check(found: set[str], allowed: frozenset[str]) -> list[str]:
    return sorted(found - allowed)


def test_lower_packages_import_no_higher_ones() -> None:
    found = {f"{a} -> {b}" for a, b in EDGES if _top(a) in LOWER and _top(b) in HIGHER}
    assert _check(found, KNOWN_BREAKS) == []


def test_orders_does_not_call_programs() -> None:
    found = {f"{a} -> {b}" for a, b in EDGES if (_top(a), _top(b)) in FORBIDDEN_PAIRS}
    assert _check(found, PURCHASE_SERVICE_BREAKS) == []


def test_no_module_imports_anothers_private_names() -> None:
    modules = {_module_name(p) for p in SRC.rglob("*.py")}
    found = set()
    for module, names in IMPORTS.items():
        for name in names:
            owner, _, last = name.rpartition(".")
            if name in modules:  # a module (``clv._base``), not a name in one
                continue
            private = last.startswith("_") and not last.startswith("__")
            if owner in modules and owner != module and private:
                found.add(f"{module} -> {name}")
    assert _check(found, PURCHASE_SERVICE_BREAKS) == []


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected groups of more than one top-level package (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[_top(a)].add(_top(b))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_cycles_between_top_level_packages() -> None:
    allowed = KNOWN_BREAKS | PURCHASE_SERVICE_BREAKS
    edges = {
        (a, b)
        for a, b in EDGES
        if f"{a} -> {b}" not in allowed
        and _top(a) not in COMPOSITION_ROOTS
        and _top(b) not in COMPOSITION_ROOTS
    }
    assert _cycles(edges) == []


def test_the_known_breaks_still_exist() -> None:
    """A removed break leaves its list (the lists only shrink)."""
    private = {f"{m} -> {n}" for m, names in IMPORTS.items() for n in names}
    present = {f"{a} -> {b}" for a, b in EDGES} | private
    assert sorted((KNOWN_BREAKS | PURCHASE_SERVICE_BREAKS) - present) == []
