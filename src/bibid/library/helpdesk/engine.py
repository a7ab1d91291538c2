"""Walking a definition: the check results decide the branches, the walk stops where the
staff member has to act (a fix to confirm, a question to ask) or at an end."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .definitions import Definition
from .findings import Finding


@dataclass(frozen=True)
class PathStep:
    node: str
    kind: str
    result: str  # "ok", a finding code, "fix", "advice", "ask", an answer, "solved", ...

    def as_json(self) -> dict:
        return asdict(self)


class WalkError(Exception):
    pass


def check_names(definition: Definition) -> list[str]:
    return [n.check for n in definition.nodes.values() if n.kind == "check" and n.check]


def walk(
    definition: Definition,
    results: dict[str, list[Finding]],
    *,
    answers: dict[str, str] | None = None,
    done: set[str] | frozenset = frozenset(),
    limit: int = 200,
) -> list[PathStep]:
    """The path from the start. `answers` (node -> answer label) carry a walk past
    questions; `done` (action nodes) past fixes already carried out."""
    answers = answers or {}
    path: list[PathStep] = []
    name = definition.start
    for _ in range(limit):
        node = definition.nodes[name]
        if node.kind == "check":
            found = results.get(node.check or "", [])
            if found:
                code = found[0].code
                path.append(PathStep(name, node.kind, code))
                name = node.routes.get(code, node.found)
            else:
                path.append(PathStep(name, node.kind, "ok"))
                name = node.ok
        elif node.kind == "action":
            if name not in done:
                path.append(PathStep(name, node.kind, "fix"))
                return path
            path.append(PathStep(name, node.kind, "done"))
            name = node.next
        elif node.kind == "question":
            label = answers.get(name)
            answer = next((a for a in node.answers if a.label == label), None)
            if answer is None:
                path.append(PathStep(name, node.kind, "ask"))
                return path
            path.append(PathStep(name, node.kind, answer.label))
            name = answer.next
        elif node.kind == "end":
            path.append(PathStep(name, node.kind, node.result or "end"))
            return path
        else:  # advice, and a flow's system/patron/staff steps
            path.append(PathStep(name, node.kind, node.kind))
            name = node.next
    raise WalkError(f"{definition.id}: the walk did not end within {limit} steps")
