"""What running a Lambda function's handler can run, found in the source with ast.

Over-approximated on purpose (a missed path is the failure that matters): from the
function's entry points (its handler in app.py; every route and middleware for the API
function), imports are followed (module-level ones, and the lazy ones inside reached
functions) through ``app.py`` and ``chalicelib/``. A plain name resolves lexically (a def
of its module, or what it imports); ``x.attr`` reaches every method called ``attr`` in a
loaded module; a class named in reached code has its dunder methods reached. A callback
is reached where it is named (``record_handler=_intake_record``), not where it is called.
``getattr`` with a computed name is not followed (the adapters' ``_call("op")`` is read by
iam_calls as the call it makes).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Def:
    module: str
    cls: str | None
    name: str
    node: ast.AST  # a FunctionDef, or the Module for its import-time code

    @property
    def label(self) -> str:
        return ".".join(p for p in (self.module, self.cls, self.name) if p)


@dataclass
class Module:
    name: str
    tree: ast.Module
    defs: list[Def] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)  # name -> base names


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


@cache
def modules() -> dict[str, Module]:
    paths = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    found: dict[str, Module] = {}
    for path in paths:
        name = _module_name(path)
        module = Module(name, ast.parse(path.read_text(), filename=str(path)))
        module.defs.append(Def(name, None, "<module>", module.tree))
        for node in module.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                module.defs.append(Def(name, None, node.name, node))
            elif isinstance(node, ast.ClassDef):
                module.classes[node.name] = [_base_name(b) for b in node.bases]
                module.defs += [Def(name, node.name, n.name, n) for n in node.body
                                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        found[name] = module
    return found


def _base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def class_bases() -> dict[str, set[str]]:
    """Class name -> itself and every base (by name, transitively)."""
    direct = {c: set(b) for m in modules().values() for c, b in m.classes.items()}
    closed: dict[str, set[str]] = {}
    for cls in direct:
        seen, todo = {cls}, [cls]
        while todo:
            for base in direct.get(todo.pop(), set()) - seen:
                seen.add(base)
                todo.append(base)
        closed[cls] = seen
    return closed


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(node: ast.AST) -> list[ast.AST]:
    """ast.walk without annotations (never evaluated: ``from __future__ import
    annotations``), so a type named in a signature is not a use of it."""
    out: list[ast.AST] = []
    todo = [node]
    while todo:
        current = todo.pop()
        out.append(current)
        for name, value in ast.iter_fields(current):
            if name in ("annotation", "returns"):
                continue
            values = value if isinstance(value, list) else [value]
            todo += [v for v in values if isinstance(v, ast.AST)]
    return out


def body_nodes(item: Def) -> list[ast.AST]:
    """The nodes that run when ``item`` runs (for a module: its import-time code, class
    bodies but not methods, decorators; never ``if TYPE_CHECKING`` imports)."""
    if not isinstance(item.node, ast.Module):
        return _walk(item.node)
    nodes: list[ast.AST] = []
    for stmt in item.node.body:
        if _is_type_checking(stmt):
            continue
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            nodes += _def_time(stmt)
        elif isinstance(stmt, ast.ClassDef):
            for part in (*stmt.bases, *stmt.decorator_list):
                nodes += _walk(part)
            for inner in stmt.body:
                is_def = isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef)
                nodes += _def_time(inner) if is_def else _walk(inner)
        else:
            nodes += _walk(stmt)
    return nodes


def _def_time(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """What a ``def`` statement evaluates: its decorators and default values."""
    parts = [*node.decorator_list, *node.args.defaults,
             *(d for d in node.args.kw_defaults if d is not None)]
    return [n for part in parts for n in _walk(part)]


def _imported_modules(nodes: list[ast.AST]) -> set[str]:
    known = modules()
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in known:
                out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names
                    if f"{node.module}.{a.name}" in known}
    # a submodule's import runs its package's __init__ first
    return out | {p for m in out for p in _parents(m) if p in known}


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@cache
def _imports_of(module: str) -> dict[str, tuple[str, str]]:
    """Local name -> (module, name) for every ``from M import name`` anywhere in ``module``
    (lazy imports included); ``import a.b`` binds nothing we follow by name."""
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(modules()[module].tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = (node.module, alias.name)
    return found


@cache
def resolve(module: str, name: str) -> str | Def | None:
    """What ``name`` means in ``module``: a module-level def or class there (a Def; a
    class as its ``<class>`` marker), a module (its dotted name), or None (not ours)."""
    known = modules()
    if module not in known:
        return None
    for item in known[module].defs:
        if item.cls is None and item.name == name and item.name != "<module>":
            return item
    if name in known[module].classes:
        return Def(module, name, "<class>", known[module].tree)
    if f"{module}.{name}" in known:
        return f"{module}.{name}"
    if name in _imports_of(module):
        source, original = _imports_of(module)[name]
        if f"{source}.{original}" in known:
            return f"{source}.{original}"
        return resolve(source, original) if source != module else None
    return None


def _references(item: Def, nodes: list[ast.AST]) -> tuple[set[Def], set[str], set[str]]:
    """(defs and classes named lexically, attribute names, modules named) in ``nodes``."""
    defs: set[Def] = set()
    attrs: set[str] = set()
    named_modules: set[str] = set()
    for node in nodes:
        target: str | Def | None = None
        if isinstance(node, ast.Name):
            target = resolve(item.module, node.id)
        elif isinstance(node, ast.Attribute):
            owner = resolve(item.module, node.value.id) if isinstance(
                node.value, ast.Name) else None
            if isinstance(owner, str):  # module.attr
                target = resolve(owner, node.attr)
            else:
                attrs.add(node.attr)
        if isinstance(target, Def):
            defs.add(target)
        elif isinstance(target, str):
            named_modules.add(target)
    return defs, attrs, named_modules


def reach(entries: list[Def]) -> dict[Def, Def | None]:
    """Every function, method and module body that running ``entries`` can run, each with
    the reached body that led to it (None for an entry): ``path`` reads the chain.

    A name resolves lexically (a def of the module, or an import of it); ``x.attr``
    reaches every method named ``attr`` in a loaded module; a class named anywhere
    reached has its dunder methods (and its bases') reached."""
    bases = class_bases()
    reached: dict[Def, Def | None] = {}
    loaded: set[str] = set()
    attrs: dict[str, Def] = {}  # an attribute mentioned -> the first body mentioning it
    used: dict[str, Def] = {}  # a class named -> the first body naming it
    todo: list[tuple[Def, Def | None]] = [(e, None) for e in entries]
    while todo:
        while todo:
            item, parent = todo.pop()
            if item in reached:
                continue
            reached[item] = parent
            nodes = body_nodes(item)
            defs, names, named_modules = _references(item, nodes)
            for name in names:
                attrs.setdefault(name, item)
            for target in defs:
                if target.name == "<class>":
                    used.setdefault(target.cls or "", item)
                    named_modules.add(target.module)
                else:
                    todo.append((target, item))
            for module in _imported_modules(nodes) | named_modules | {item.module}:
                if module not in loaded:
                    loaded.add(module)
                    todo.append((modules()[module].defs[0], item))
        for module in loaded:
            for item in modules()[module].defs:
                if item in reached or item.cls is None:
                    continue
                if item.name in attrs:
                    todo.append((item, attrs[item.name]))
                elif item.name.startswith("__"):
                    built = [c for c in used if item.cls in bases.get(c, set())]
                    if built:
                        todo.append((item, used[built[0]]))
    return reached


def path(reached: dict[Def, Def | None], item: Def) -> str:
    """``app.intake -> chalicelib.wiring.get_intake -> ...``: how ``item`` was reached."""
    chain: list[str] = []
    node: Def | None = item
    while node is not None and len(chain) < 40:
        chain.append(node.label)
        node = reached.get(node)
    return " -> ".join(reversed(chain))


def const(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None



def entry_points(handler: str) -> list[Def]:
    """``app.intake`` -> the intake function; ``app.app`` -> every route and middleware.
    Middleware registered for "all" runs around every function."""
    app_module = modules()["app"]
    name = handler.split(".", 1)[1]
    entries: list[Def] = []
    for item in app_module.defs:
        if isinstance(item.node, ast.FunctionDef):
            for decorator in item.node.decorator_list:
                if _decorator_kind(decorator) == "middleware" and _middleware_applies(
                        decorator, api=name == "app"):
                    entries.append(item)
            if item.name == name:
                entries.append(item)
    if name == "app":
        loaded = {d.module for d in reach([*entries, app_module.defs[0]])}
        entries += [d for m in loaded for d in modules()[m].defs
                    if isinstance(d.node, ast.FunctionDef)
                    and any(_decorator_kind(x) in ("route", "authorizer")
                            for x in d.node.decorator_list)]
    return entries


def _decorator_kind(node: ast.expr) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    return func.attr if isinstance(func, ast.Attribute) else ""


def _middleware_applies(node: ast.expr, *, api: bool) -> bool:
    kind = const(node.args[0]) if isinstance(node, ast.Call) and node.args else "all"
    return kind == "all" or (api and kind == "http")

