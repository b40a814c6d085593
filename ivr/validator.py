"""Checks across the whole MenuSet: references, reachability, loops without input, depth."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from functools import partial

from ivr.fields import suggest
from ivr.model import Action, MenuSet, Where
from ivr.problems import Problem

MAX_OPTIONS = 5
MAX_DEPTH = 4
END = "end"


class Graph:
    """Where each node can lead: caller-driven edges and automatic ones (taken without a key).

    Every node with edges has at least one automatic edge (a fallback, on_timeout or on_fail), so
    `automatic` lists every source, in the order they were added.
    """

    def __init__(self, ms: MenuSet):
        self.ms = ms
        self.caller: dict[str, list[str]] = {}  # src -> nodes a key press leads to
        self.automatic: dict[str, list[tuple[str, Where]]] = {}  # src -> (node, where it is said)
        self._targets: dict[int, list[tuple[str, Where]]] = {}  # by id: the MenuSet keeps the actions alive
        # one string per node, shared by every edge to it: the walks then compare by identity with a
        # cached hash, and a load makes one name per node instead of one per edge
        self.names: dict[str, dict[str | None, str]] = {kind: {} for kind in _LEADS_TO_TARGET}
        self.names["menu"] = {menu.id: f"menu:{menu.id}" for menu in ms.menus.values()}
        self.main = self.node("menu", ms.line.main)

    def node(self, kind: str, target: str | None) -> str:
        """The node `kind:target` (`kind` one of menu, queue, voicemail, transfer), as one shared string."""
        names = self.names[kind]
        name = names.get(target)
        if name is None:
            name = names[target] = f"{kind}:{target}"
        return name

    def add(self, src: str, action: Action | None, automatic: bool) -> None:
        """Add the edges of `action` leaving `src`."""
        if action is not None:
            self.add_all(src, (action,), automatic)

    def add_all(self, src: str, actions: Iterable[Action], automatic: bool) -> None:
        """Add the edges of each of `actions` leaving `src` (one call per menu: this is hot)."""
        into: list | None = None
        for action in actions:
            if into is None:
                into = (self.automatic if automatic else self.caller).setdefault(src, [])
            if action.closed is None:  # the usual cases, as `targets` finds them
                kind = action.kind
                if kind in _LEADS_TO_TARGET:
                    dst = self.node(kind, action.target)
                    into.append((dst, action.where) if automatic else dst)
                    continue
                if kind == "main" or kind == "back":
                    into.append((self.main, action.where) if automatic else self.main)
                    continue
            found = self._targets.get(id(action))  # a shared action (the default fallback) is walked once
            if found is None:
                found = self._targets[id(action)] = self.targets(action)
            into += found if automatic else [dst for dst, _ in found]

    def edges(self, src: str) -> list[str]:
        """Every node `src` leads to: caller-driven first, then automatic."""
        return [*self.caller.get(src, ()), *(dst for dst, _ in self.automatic.get(src, ()))]

    def menu_parents(self) -> dict[str, set[str]]:
        """The menus with an edge to each menu."""
        parents: dict[str, set[str]] = {}
        for src in self.automatic:
            if src.startswith("menu:"):
                for dst in self.edges(src):
                    if dst.startswith("menu:"):
                        parents.setdefault(dst, set()).add(src)
        return parents

    def targets(self, action: Action | None) -> list[tuple[str, Where]]:
        """Every node `action` may lead to (both sides of a schedule)."""
        found: list[tuple[str, Where]] = []
        while action is not None:
            if action.closed is not None:
                found += self.targets(action.closed)
            kind = action.kind
            if kind in _LEADS_TO_TARGET:
                found.append((self.node(kind, action.target), action.where))
            elif kind == "main" or kind == "back":
                found.append((self.main, action.where))
            elif (kind == "say" or kind == "language") and action.then is not None:
                action = action.then
                continue
            elif kind == "say":
                found.append((END, action.where))
            elif kind == "language":
                found.append((self.main, action.where))
            else:
                found.append((END, action.where))
            break
        return found


_LEADS_TO_TARGET = frozenset(("menu", "queue", "voicemail", "transfer"))


def build_graph(ms: MenuSet) -> Graph:
    """The navigation graph of a MenuSet."""
    return _survey(ms, _tables(_Declared(ms, {})))[0]


def _survey(ms: MenuSet, tables: dict[str, set[str]]) -> tuple[Graph, list[_Check], list[tuple]]:
    """The graph, the actions the reference check must look at, and menus with too many choices.

    One pass over the menus' options does all three, as it is most of the work: an option to a
    target gives its edge here (as `Graph.add_all` would), is left out of the reference check
    when it cannot have a problem (one step to a target that exists) and is counted as a choice.
    """
    graph, found, crowded = Graph(ms), [], []
    walk = partial(_walk, found)
    graph.add("line", Action(kind="menu", target=ms.line.start, where=ms.line.where), True)
    graph.add("line", ms.line.closed, True)
    walk(ms.line.closed, ("line",))
    shared_fallback = _clean_fallback(ms, tables)
    caller, main, add_all, names = graph.caller, graph.main, graph.add_all, graph.names
    menu_names = names["menu"]
    for menu in ms.menus.values():
        src = menu_names[menu.id]
        choices = 0
        if menu.options:
            into = caller.setdefault(src, [])
            for key, action in menu.options.items():
                kind = action.kind
                one_step = action.closed is None and action.then is None and not action.hours
                if one_step and kind in _LEADS_TO_TARGET:  # the usual option: its edge, as add_all finds it
                    kind_names = names[kind]  # as Graph.node, inline
                    dst = kind_names.get(action.target)
                    if dst is None:
                        dst = kind_names[action.target] = f"{kind}:{action.target}"
                    into.append(dst)
                    choices += 1
                    if action.target in tables[kind]:
                        continue  # to a target that exists: nothing to report
                elif one_step and (kind == "main" or kind == "back"):
                    into.append(main)
                    continue
                else:
                    add_all(src, (action,), False)
                    choices += kind not in _NOT_CHOICES
                    if one_step and kind != "repeat" and (kind not in tables or action.target in tables[kind]):
                        continue
                walk(action, ("option {} of menu '{}'", key, menu.id))
            if choices > MAX_OPTIONS:
                crowded.append((menu, choices))
        if menu.branches:
            add_all(src, [branch.action for branch in menu.branches], False)
            for branch in menu.branches:
                walk(branch.action, ("a branch of menu '{}'", menu.id))
        graph.add(src, menu.otherwise, False)
        walk(menu.otherwise, ("otherwise of menu '{}'", menu.id))
        graph.add(src, menu.fallback, True)
        if menu.fallback is not shared_fallback:
            walk(menu.fallback, ("fallback of menu '{}'", menu.id))
    for queue in ms.queues.values():
        graph.add(f"queue:{queue.name}", queue.on_timeout or Action(kind="hangup"), True)
        graph.add(f"queue:{queue.name}", queue.closed, True)
        if queue.voicemail:
            graph.add(f"queue:{queue.name}", Action(kind="voicemail", target=queue.voicemail), False)
    for transfer in ms.transfers.values():
        graph.add(f"transfer:{transfer.name}", transfer.on_fail or Action(kind="hangup"), True)
        graph.add(f"transfer:{transfer.name}", transfer.closed, True)
    for item in (*ms.queues.values(), *ms.transfers.values()):
        for attr in ("on_timeout", "on_fail", "closed"):
            walk(getattr(item, attr, None), ("{} of '{}'", attr, item.name))
    # `back` as a fallback may return to any parent: treat it as an automatic edge to each.
    backs = [menu for menu in ms.menus.values() if menu.fallback.kind == "back"]
    parents = graph.menu_parents() if backs else {}
    for menu in backs:
        for parent in parents.get(menu_names[menu.id], ()):
            graph.automatic.setdefault(menu_names[menu.id], []).append((parent, menu.fallback.where))
    return graph, found, crowded


_NOT_CHOICES = frozenset(("repeat", "back", "main"))
_Check = tuple[Action, tuple[str, ...]]  # an action and its place, as a format and its arguments


def validate(ms: MenuSet, declared: dict[str, set[str]] | None = None) -> list[Problem]:
    """Every cross-reference and graph problem; `declared` names (even ones that failed to parse) count as existing."""
    known = _Declared(ms, declared or {})
    tables = _tables(known)
    # dangling references are plain dead ends in the graph: every pass still runs
    graph, to_check, crowded = _survey(ms, tables)
    problems = list(_references(ms, known, tables, to_check))
    problems += _unreached(ms, graph)
    problems += _automatic_loops(graph)
    problems += _no_way_out(ms, graph)
    problems += _warnings(ms, graph, crowded)
    return problems


class _Declared:
    """Every declared name per section, so an entry that failed to parse is not also reported missing."""

    def __init__(self, ms: MenuSet, declared: dict[str, set[str]]):
        for section in ("menus", "queues", "voicemail", "transfers", "schedules", "surveys"):
            setattr(self, section, set(getattr(ms, section)) | set(declared.get(section, ())))
        self.languages = set(ms.languages)


def _walk(found: list[tuple[Action, tuple[str, ...]]], action: Action | None, what: tuple[str, ...]) -> None:
    """Add `action` and the actions it leads on to (then, closed) to `found`."""
    if action is not None:
        found.append((action, what))
        if action.then is not None:
            _walk(found, action.then, what)
        if action.closed is not None:
            _walk(found, action.closed, what)


def _tables(known: _Declared) -> dict[str, set[str]]:
    """The declared names an action of each kind may lead to."""
    return {"menu": known.menus, "queue": known.queues, "voicemail": known.voicemail,
            "transfer": known.transfers, "language": known.languages}


def _clean_fallback(ms: MenuSet, tables: dict[str, set[str]]) -> Action | None:
    """The fallback most menus share (the default one) when no step of it can have a problem."""
    menu = next(iter(ms.menus.values()), None)
    action = fallback = menu.fallback if menu else None
    while action is not None:
        table = tables.get(action.kind)
        if action.closed is not None or action.hours or action.kind == "repeat" or \
                (table is not None and action.target not in table):
            return None
        action = action.then
    return fallback


def _what(place: tuple[str, ...]) -> str:
    """The words naming an action's place, built only when a problem needs them."""
    return place[0].format(*place[1:])


def _references(ms: MenuSet, known: _Declared, tables: dict[str, set[str]],
                to_check: list[_Check]) -> Iterator[Problem]:
    for action, place in to_check:
        table = tables.get(action.kind)
        if table is not None and action.target not in table:
            kind = "voicemail box" if action.kind == "voicemail" else action.kind
            yield Problem(action.where.file, action.where.line,
                          f"{_what(place)} goes to {kind} '{action.target}', which does not exist"
                          f"{suggest(action.target, table)}")
        if action.hours and action.hours not in known.schedules:
            yield Problem(action.where.file, action.where.line,
                          f"{_what(place)} names schedule '{action.hours}', which does not exist"
                          f"{suggest(action.hours, known.schedules)}")
        if action.kind == "repeat" and "fallback" in _what(place):
            yield Problem(action.where.file, action.where.line,
                          f"{_what(place)} cannot be 'repeat': the caller would be reprompted forever; "
                          "use a goodbye, voicemail, a queue or another menu")
    yield from _named_references(ms, known)


def _named_references(ms: MenuSet, known: _Declared) -> Iterator[Problem]:
    for name, kind in ((ms.line.start, "start"), (ms.line.main, "main")):
        if name not in known.menus:
            yield Problem(ms.line.where.file, ms.line.where.line,
                          f"line {kind} menu '{name}' does not exist{suggest(name, ms.menus)}")
    holders = [(ms.line, "line")] + [(q, f"queue '{q.name}'") for q in ms.queues.values()] \
        + [(t, f"transfer '{t.name}'") for t in ms.transfers.values()]
    for item, what in holders:
        if item.hours and item.hours not in known.schedules:
            yield Problem(item.where.file, item.where.line, f"{what} names schedule '{item.hours}', "
                          f"which does not exist{suggest(item.hours, known.schedules)}")
        survey = getattr(item, "survey", None)
        if survey and survey not in known.surveys:
            yield Problem(item.where.file, item.where.line, f"{what} names survey '{survey}', "
                          f"which does not exist{suggest(survey, ms.surveys)}")
        elif survey and getattr(item, "survey_ask", None) == "after_call" \
                and survey in ms.surveys and ms.surveys[survey].offer is None:
            yield Problem(item.where.file, item.where.line, f"{what} offers survey '{survey}' after "
                          "the call (survey_ask), but the survey has no 'offer' prompt: add one")
    for queue in ms.queues.values():
        if queue.voicemail and queue.voicemail not in known.voicemail:
            yield Problem(queue.where.file, queue.where.line, f"queue '{queue.name}' names voicemail box "
                          f"'{queue.voicemail}', which does not exist{suggest(queue.voicemail, ms.voicemail)}")


def _reachable(graph: Graph, start: str, automatic_only: bool = False) -> set[str]:
    seen, todo = {start}, deque([start])
    caller, automatic = ({} if automatic_only else graph.caller), graph.automatic
    while todo:
        node = todo.popleft()
        for dst in caller.get(node, ()):
            if dst not in seen:
                seen.add(dst)
                todo.append(dst)
        for dst, _ in automatic.get(node, ()):
            if dst not in seen:
                seen.add(dst)
                todo.append(dst)
    return seen


def _unreached(ms: MenuSet, graph: Graph) -> Iterator[Problem]:
    seen = _reachable(graph, "line")
    menu_names = graph.names["menu"]
    for menu in ms.menus.values():
        if menu_names[menu.id] not in seen:
            yield Problem(menu.where.file, menu.where.line, f"menu '{menu.id}' is never reached: no "
                          "option, branch or fallback leads to it; link it from a menu or delete it")
    for kind, table in (("queue", ms.queues), ("voicemail", ms.voicemail), ("transfer", ms.transfers)):
        for item in table.values():
            if f"{kind}:{item.name}" not in seen:
                yield Problem(item.where.file, item.where.line,
                              f"{kind} '{item.name}' is declared but no menu leads to it", "warning")


def _automatic_loops(graph: Graph) -> Iterator[Problem]:
    """Cycles made only of automatic edges: a silent caller would go round them forever."""
    state: dict[str, int] = {}
    reported: set[str] = set()
    for node in list(graph.automatic):
        if node not in state:
            yield from _loops_from(graph, node, [node], state, reported)


def _loops_from(graph: Graph, node: str, path: list[str], state: dict[str, int],
                reported: set[str]) -> Iterator[Problem]:
    """The automatic loops found walking on from `node` (depth first; `state` 1 = on the path, 2 = done)."""
    # A module function, not a closure: a recursive closure is a reference cycle, which would keep
    # the MenuSet alive until a full collection (see loader._gc_paused).
    state[node] = 1
    for dst, where in graph.automatic.get(node, ()):
        if state.get(dst) == 1 and dst not in reported:
            reported.add(dst)
            cycle = path[path.index(dst):] + [dst] if dst in path else [node, dst]
            yield Problem(where.file, where.line, "endless loop without caller input: "
                          + " -> ".join(cycle) + "; a caller who presses nothing would go "
                          "round forever. Make one fallback, on_timeout or on_fail end the "
                          "call (a goodbye, voicemail or hangup)")
        elif dst not in state:
            yield from _loops_from(graph, dst, path + [dst], state, reported)
    state[node] = 2


def _leading_to_exit(graph: Graph) -> set[str]:
    """Every node from which some path reaches an exit (linear, not a walk per menu).

    A node with an edge straight to an exit is settled at once (with the usual fallback to a
    queue, every menu is); only the others' edges are turned round for a backward walk from the
    settled nodes they lead to.
    """
    exits = _EXITS
    leading = {src for src in graph.automatic if src.startswith(exits)}
    sources: defaultdict[str, list[str]] = defaultdict(list)
    caller = graph.caller
    for src, edges in graph.automatic.items():
        if src in leading:
            continue
        for dst, _ in edges:  # automatic edges first, with no list made: a fallback to a queue settles most
            if dst.startswith(exits):
                leading.add(src)
                break
        else:
            keyed = caller.get(src, ())
            for dst in keyed:
                if dst.startswith(exits):
                    leading.add(src)
                    break
            else:
                for dst, _ in edges:  # in the same order as before: automatic, then caller-driven
                    sources[dst].append(src)
                for dst in keyed:
                    sources[dst].append(src)
    todo = deque(dst for dst in sources if dst in leading)
    while todo:
        for src in sources.get(todo.popleft(), ()):
            if src not in leading:
                leading.add(src)
                todo.append(src)
    return leading


_EXITS = ("end", "queue:", "voicemail:", "transfer:")


def _no_way_out(ms: MenuSet, graph: Graph) -> Iterator[Problem]:
    leading = _leading_to_exit(graph)
    menu_names = graph.names["menu"]
    for menu in ms.menus.values():
        if menu_names[menu.id] not in leading:
            yield Problem(menu.where.file, menu.where.line, f"menu '{menu.id}' never leads anywhere "
                          "but back to itself: give it a way out (a queue, voicemail, transfer or hangup)")


def _warnings(ms: MenuSet, graph: Graph, crowded: list[tuple]) -> Iterator[Problem]:
    for menu, choices in crowded:
        yield Problem(menu.where.file, menu.where.line, f"menu '{menu.id}' has {choices} "
                      f"options; callers remember at most {MAX_OPTIONS}: consider a submenu", "warning")
    start = graph.node("menu", ms.line.start)
    depth = {start: 0}
    seen = {start}  # the menus in `depth` and every other node met: each is looked at once
    todo = deque([start])
    caller, automatic, popleft, append = graph.caller, graph.automatic, todo.popleft, todo.append
    while todo:  # a menu's caller-driven edges come before its automatic ones, as they were added
        node = popleft()
        here = depth[node]
        for dst in caller.get(node, ()):
            if dst not in seen:
                seen.add(dst)
                if dst.startswith("menu:"):
                    depth[dst] = here + 1
                    append(dst)
        for dst, _ in automatic.get(node, ()):
            if dst not in seen:
                seen.add(dst)
                if dst.startswith("menu:"):
                    depth[dst] = here
                    append(dst)
    for node, level in depth.items():
        menu = ms.menus.get(node[5:])
        if menu and level > MAX_DEPTH:
            yield Problem(menu.where.file, menu.where.line, f"menu '{menu.id}' is {level} levels deep; "
                          f"more than {MAX_DEPTH} key presses tire callers: consider a flatter tree", "warning")
