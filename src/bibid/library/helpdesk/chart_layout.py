"""The layered layout of a flowchart, small and deterministic: ranks, order, positions.

Sugiyama's steps, cut to what a helpdesk procedure needs (tens of nodes): back edges found by
a depth-first search (taken in the order the file lists the nodes, so the edge that points
back up the file is the one drawn at the side), rank = longest path from the start, dummy
points on edges that span ranks, a few barycenter sweeps against crossings, then x positions
pulled towards the neighbours. Written here rather than taken from Graphviz or ELK: the
helpdesk must draw its charts with no external program, no JavaScript and no network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

V_GAP = 58.0  # between ranks: room for the edge labels
H_GAP = 36.0  # between boxes in a rank
DUMMY_GAP = 14.0  # next to an edge passing through a rank
LANE_GAP = 26.0  # from the widest box to the first side lane of back edges
LANE_STEP = 16.0
SWEEPS = 4
PASSES = 8


@dataclass
class Box:
    name: str
    w: float
    h: float
    seq: int  # file order (dummies after the real nodes)
    dummy: bool = False
    rank: int = 0
    x: float = 0.0  # centre
    y: float = 0.0  # top

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass
class Route:
    source: str
    target: str
    back: bool
    points: list[tuple[float, float]]  # forward: port, (band top, band bottom)*, port
    lane: float = 0.0  # back edges: the x of the side lane
    side: int = 1  # back edges: 1 right, -1 left


@dataclass
class Layout:
    boxes: dict[str, Box]  # the real nodes
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    ranks: int = 0


def _back_edges(names: list[str], start: str, succ: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges into a node still on the DFS stack (a self-loop too)."""
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in [start, *names]:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                state[node] = 2
                stack.pop()
            elif state.get(target) == 1:
                back.add((node, target))
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(succ[target])))
    return back


def _ranks(names: list[str], start: str, dag: dict[str, list[str]]) -> dict[str, int]:
    order: list[str] = []  # reverse post-order: a topological order of the DAG
    seen: set[str] = set()
    for root in [start, *names]:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(dag[root]))]
        while stack:
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                order.append(node)
                stack.pop()
            elif target not in seen:
                seen.add(target)
                stack.append((target, iter(dag[target])))
    rank = dict.fromkeys(names, 0)
    for node in reversed(order):
        for target in dag[node]:
            rank[target] = max(rank[target], rank[node] + 1)
    return rank


def _crossings(upper: list[str], lower: list[str], succ: dict[str, list[str]]) -> int:
    pos = {name: i for i, name in enumerate(lower)}
    pairs = [(i, pos[t]) for i, name in enumerate(upper) for t in succ[name]]
    return sum(1 for a, b in pairs for c, d in pairs if a < c and b > d)


def _order(layers: list[list[str]], pred: dict[str, list[str]], succ: dict[str, list[str]]):
    """Barycenter sweeps down and up; keep the order with the fewest crossings."""

    def total(current: list[list[str]]) -> int:
        return sum(_crossings(current[r], current[r + 1], succ) for r in range(len(current) - 1))

    best, best_score = [list(layer) for layer in layers], total(layers)
    current = [list(layer) for layer in layers]
    for _ in range(SWEEPS):
        for down in (True, False):
            ranks = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
            for r in ranks:
                near = current[r - 1] if down else current[r + 1]
                pos = {name: i for i, name in enumerate(near)}
                links = pred if down else succ

                def key(item, pos=pos, links=links):
                    i, name = item
                    found = [pos[n] for n in links[name] if n in pos]
                    return (sum(found) / len(found) if found else i, i)

                current[r] = [name for _, name in sorted(enumerate(current[r]), key=key)]
            score = total(current)
            if score < best_score:
                best, best_score = [list(layer) for layer in current], score
    return best


def _place(layer: list[Box], want: list[float]) -> None:
    """As near the wanted centres as the order and the gaps allow (mean of two packings)."""

    def sep(a: Box, b: Box) -> float:
        gap = DUMMY_GAP if a.dummy or b.dummy else H_GAP
        return a.w / 2 + gap + b.w / 2

    n = len(layer)
    left = list(want)
    for i in range(1, n):
        left[i] = max(want[i], left[i - 1] + sep(layer[i - 1], layer[i]))
    right = list(want)
    for i in range(n - 2, -1, -1):
        right[i] = min(want[i], right[i + 1] - sep(layer[i], layer[i + 1]))
    for box, a, b in zip(layer, left, right, strict=True):
        box.x = (a + b) / 2


def _ports(box: Box, count: int) -> list[float]:
    if count <= 1:
        return [box.x] * count
    spread = min(box.w * 0.6, 36.0 * (count - 1))
    return [box.x - spread / 2 + i * spread / (count - 1) for i in range(count)]


def layout(
    names: list[str],
    sizes: dict[str, tuple[float, float]],
    start: str,
    edges: list[tuple[str, str, float]],
) -> Layout:
    """Place `names` (in file order) with their sizes; `edges` are (source, target, label
    width). Every coordinate comes from the input alone: the same chart twice is the same."""
    succ: dict[str, list[str]] = {name: [] for name in names}
    seq = {name: i for i, name in enumerate(names)}
    label_w: dict[tuple[str, str], float] = {}
    for source, target, width in edges:
        if target not in succ[source]:
            succ[source].append(target)
        label_w[(source, target)] = max(width, label_w.get((source, target), 0.0))
    for targets in succ.values():
        targets.sort(key=seq.__getitem__)
    back = _back_edges(names, start, succ)
    dag = {name: [t for t in succ[name] if (name, t) not in back] for name in names}
    rank = _ranks(names, start, dag)

    boxes = {name: Box(name, *sizes[name], seq=i, rank=rank[name]) for i, name in enumerate(names)}
    every = dict(boxes)
    seg_succ: dict[str, list[str]] = {name: [] for name in names}
    chains: dict[tuple[str, str], list[str]] = {}
    for source in names:
        for target in dag[source]:
            chain = [source]
            for r in range(rank[source] + 1, rank[target]):
                dummy = f"\x00{source}\x00{target}\x00{r}"
                every[dummy] = Box(dummy, 0.0, 0.0, seq=len(every), dummy=True, rank=r)
                seg_succ[dummy] = []
                chain.append(dummy)
            chain.append(target)
            for a, b in pairwise(chain):
                seg_succ[a].append(b)
            chains[(source, target)] = chain
    seg_pred: dict[str, list[str]] = {name: [] for name in every}
    for a in every:
        for b in seg_succ[a]:
            seg_pred[b].append(a)

    count = max(rank.values()) + 1
    layers: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(every, key=lambda n: every[n].seq):
        layers[every[name].rank].append(name)
    layers = _order(layers, seg_pred, seg_succ)

    # y: one band per rank, as high as its highest box; boxes centred in their band.
    band_top, y = [], 0.0
    for layer in layers:
        height = max(every[n].h for n in layer)
        band_top.append(y)
        for name in layer:
            every[name].y = y + (height - every[name].h) / 2
            if every[name].dummy:
                every[name].h = height  # an edge passes straight through the band
                every[name].y = y
        y += height + V_GAP

    # x: packed, then pulled towards the neighbours above and below, a few times.
    for layer in layers:
        _place([every[n] for n in layer], [0.0] * len(layer))
    for i in range(PASSES):
        down = i % 2 == 0
        for r in range(1, count) if down else range(count - 2, -1, -1):
            row = [every[n] for n in layers[r]]
            want = []
            for box in row:
                near = seg_pred[box.name] if down else seg_succ[box.name]
                weights = [(every[n].x, 2.0 if box.dummy and every[n].dummy else 1.0) for n in near]
                total = sum(w for _, w in weights)
                want.append(sum(x * w for x, w in weights) / total if total else box.x)
            _place(row, want)

    result = Layout(boxes=boxes, ranks=count)
    # Forward edges: spread the ports along the bottom and top, in the order of the x the
    # edge heads to (fewer crossings right under a box).
    outs: dict[str, list[tuple[str, str]]] = {n: [] for n in names}
    ins: dict[str, list[tuple[str, str]]] = {n: [] for n in names}
    for key in chains:
        outs[key[0]].append(key)
        ins[key[1]].append(key)
    out_x, in_x = {}, {}
    for name in names:
        ordered = sorted(outs[name], key=lambda k: (every[chains[k][1]].x, seq[k[1]]))
        for key, x in zip(ordered, _ports(boxes[name], len(ordered)), strict=True):
            out_x[key] = x
        ordered = sorted(ins[name], key=lambda k: (every[chains[k][-2]].x, seq[k[0]]))
        for key, x in zip(ordered, _ports(boxes[name], len(ordered)), strict=True):
            in_x[key] = x
    for key, chain in chains.items():
        points = [(out_x[key], boxes[key[0]].bottom)]
        for dummy in chain[1:-1]:
            box = every[dummy]
            points += [(box.x, box.y), (box.x, box.bottom)]
        points.append((in_x[key], boxes[key[1]].y))
        result.routes[key] = Route(key[0], key[1], back=False, points=points)

    # Back edges: out of a side, up a lane beyond everything in the ranks they span, into
    # the same side of the target. The side with fewer boxes in the way wins.
    lanes = {1: 0, -1: 0}
    for source, target in sorted(
        back, key=lambda e: (rank[e[0]] - rank[e[1]], seq[e[0]], seq[e[1]])
    ):
        a, b = boxes[source], boxes[target]
        low, high = sorted((a.rank, b.rank))
        spanned = [every[n] for r in range(low, high + 1) for n in layers[r]]

        def beyond(box: Box, side: int) -> int:
            return sum(
                1
                for n in layers[box.rank]
                if side * (every[n].x - box.x) > 0 and not every[n].dummy
            )

        side = 1 if beyond(a, 1) + beyond(b, 1) <= beyond(a, -1) + beyond(b, -1) else -1
        extreme = max(n.right for n in spanned) if side == 1 else min(n.left for n in spanned)
        lane = extreme + side * (LANE_GAP + LANE_STEP * lanes[side])
        lanes[side] += 1 + int(label_w.get((source, target), 0.0) // LANE_STEP)
        y_a, y_b = a.y + a.h / 2, b.y + b.h / 2
        points = [
            (a.x + side * a.w / 2, y_a),
            (lane, y_a),
            (lane, y_b),
            (b.x + side * b.w / 2, y_b),
        ]
        result.routes[(source, target)] = Route(
            source, target, back=True, points=points, lane=lane, side=side
        )
    return result
