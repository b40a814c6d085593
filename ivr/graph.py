"""The menu tree as a graph: menus, schedule branches and end nodes, drawn as Mermaid, DOT or SVG."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ivr.model import Action, Menu, MenuSet

#: Node kinds and how each draws: Mermaid brackets and Graphviz shape.
SHAPES = {
    "start": ("((", "))", "circle"), "menu": ("[", "]", "box"), "input": ("[/", "/]", "parallelogram"),
    "schedule": ("{", "}", "diamond"), "say": ("(", ")", "note"), "queue": ("[[", "]]", "box3d"),
    "voicemail": ("[(", ")]", "cylinder"), "transfer": (">", "]", "cds"), "hangup": ("((", "))", "doublecircle"),
    "back": ("([", "])", "oval"),
}
END_KINDS = ("queue", "voicemail", "transfer", "hangup")


@dataclass(frozen=True)
class Node:
    """A box in the drawing: a menu, a schedule test, something said, or where a call ends."""

    id: str
    kind: str
    label: str


@dataclass(frozen=True)
class Edge:
    """An arrow: a key, a branch rule or an outcome leading from one node to another."""

    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class MenuGraph:
    """Nodes in the order they were found (start first) and the arrows between them."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, key: str, kind: str, label: str) -> str:
        """The node id for `key`, creating the node on first use."""
        if key not in self.nodes:
            self.nodes[key] = Node(id=f"n{len(self.nodes)}", kind=kind, label=label)
        return self.nodes[key].id

    def link(self, source: str, target: str, label: str = "", dashed: bool = False) -> None:
        """Add an arrow unless the same one is already there."""
        edge = Edge(source, target, label, dashed)
        if edge not in self.edges:
            self.edges.append(edge)


class GraphBuilder:
    """Walks a MenuSet and turns its menus and actions into a MenuGraph."""

    def __init__(self, ms: MenuSet):
        self.ms, self.graph = ms, MenuGraph()
        self.lang = ms.default_language
        self.entries: dict[str, str] = {}

    def build(self) -> MenuGraph:
        """The whole drawing: the call's start, every menu, every destination's follow-ups."""
        start = self.graph.add("start", "start", "call")
        line = self.ms.line
        entry = Action(kind="menu", target=line.start, hours=line.hours, closed=line.closed)
        self.graph.link(start, self.action(entry, "line"))
        for menu in self.ms.menus.values():
            self.menu_edges(menu)
        return self.graph

    def menu_node(self, menu_id: str) -> str:
        menu = self.ms.menus[menu_id]
        title = f"{menu.title}\n{menu_id}" if menu.title else menu_id
        return self.graph.add(f"menu:{menu_id}", "input" if menu.is_input else "menu", title)

    def menu_edges(self, menu: Menu) -> None:
        source = self.menu_node(menu.id)
        for key, action in menu.options.items():
            self.graph.link(source, self.action(action, f"{menu.id}:{key}", menu), _key_label(key, action))
        for index, branch in enumerate(menu.branches):
            rule = f"starts {branch.prefix}" if branch.prefix is not None else f"matches {branch.pattern}"
            self.graph.link(source, self.action(branch.action, f"{menu.id}:b{index}", menu), rule)
        if menu.otherwise is not None:
            self.graph.link(source, self.action(menu.otherwise, f"{menu.id}:other", menu), "otherwise")
        self.graph.link(source, self.action(menu.fallback, f"{menu.id}:fallback", menu),
                        f"{menu.attempts} misses", dashed=True)

    def action(self, action: Action, where: str, menu: Menu | None = None) -> str:
        """The node an action leads to (a schedule test first when it has hours)."""
        if action.hours:
            opened = self.action(replace(action, hours=None, closed=None), where + "+", menu)
            return self.schedule(action.hours, opened, action.closed, where, menu)
        kind, target = action.kind, action.target
        if kind == "menu":
            return self.menu_node(target)
        if kind == "main" or kind == "back" and menu is None:
            return self.menu_node(self.ms.line.main)
        if kind == "repeat" and menu is not None:
            return self.menu_node(menu.id)
        if kind == "back":
            return self.graph.add("back", "back", "back to the previous menu")
        if kind in ("language", "say"):
            return self.said(action, where, menu)
        if kind in ("queue", "voicemail", "transfer"):
            return self.destination(kind, target)
        return self.graph.add("hangup", "hangup", "hang up")

    def said(self, action: Action, where: str, menu: Menu | None) -> str:
        """A note for a language switch or a message, followed by what comes next."""
        if action.kind == "language":
            node = self.graph.add(f"lang:{where}", "say", f"language {action.target}")
            then = action.then or Action(kind="main")
        else:
            speech = action.message.speech(self.lang)
            node = self.graph.add(f"say:{where}", "say", f"says: {_short(speech.text or speech.play or '')}")
            then = action.then or Action(kind="hangup")
        self.graph.link(node, self.action(then, where + ">", menu))
        return node

    def schedule(self, hours: str, opened: str, closed: Action | None, where: str,
                 menu: Menu | None) -> str:
        """A diamond that tests opening hours: open leads on, closed to the closed action."""
        node = self.graph.add(f"hours:{hours}:{where}", "schedule", f"{hours} open?")
        self.graph.link(node, opened, "open")
        closed = closed or Action(kind="say", message=self.ms.message("closed"),
                                  then=Action(kind="hangup"))
        self.graph.link(node, self.action(closed, where + "-", menu), "closed")
        return node

    def destination(self, kind: str, name: str) -> str:
        """The entry to an end node (its hours test, if any); follow-ups are drawn once."""
        key = f"{kind}:{name}"
        if key in self.entries:
            return self.entries[key]
        item = {"queue": self.ms.queues, "voicemail": self.ms.voicemail,
                "transfer": self.ms.transfers}[kind][name]
        label = f"{kind} {name}" + (f"\nto {item.to}" if kind == "transfer" else "")
        node = self.entries[key] = self.graph.add(key, kind, label)
        hours = getattr(item, "hours", None)
        if hours:
            self.entries[key] = self.schedule(hours, node, item.closed, key, None)
        self.follow_ups(kind, item, node, key)
        return self.entries[key]

    def follow_ups(self, kind: str, item, node: str, key: str) -> None:
        """What happens after an end node: queue timeout or leave key, transfer failure."""
        if kind == "queue":
            if item.on_timeout:
                self.graph.link(node, self.action(item.on_timeout, key + ":timeout"), "timeout", True)
            if item.voicemail and item.leave_key:
                self.graph.link(node, self.destination("voicemail", item.voicemail),
                                f"leave key {item.leave_key}", True)
        if kind == "transfer" and item.on_fail:
            self.graph.link(node, self.action(item.on_fail, key + ":fail"), "no answer", True)


def _key_label(key: str, action: Action) -> str:
    return f"{key}: {action.label}" if action.label else key


def _short(text: str, size: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def build_graph(ms: MenuSet) -> MenuGraph:
    """The drawing of a MenuSet."""
    return GraphBuilder(ms).build()
