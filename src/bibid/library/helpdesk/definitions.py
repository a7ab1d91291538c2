"""Procedures and process flows as data: YAML files in this package, checked when loaded.

A definition is a graph of nodes, each citing the seed step it comes from:

- check:    an automated check (a registered class in checks.py); `ok` is where the walk
            goes when it finds nothing, `found` where it goes when it produces a finding
            (`routes` may send particular finding codes elsewhere).
- action:   a login-account operation the staff member carries out (`operation` is the
            identity library API's operationId, e.g. account_activate); then `next`.
            `confirm: true`: the staff member first ticks that they checked (who is who);
            `waits_for_patron: true`: its effect needs the patron (a mail to act on), so the
            fix is not called a success the moment it is carried out.
- question: something only the customer can answer; `answers` lead on.
- advice:   what to tell the customer; then `next`.
- end:      `result` solved | escalate.

Procedures (`procedures/*.yaml`, kind "procedure") are what the helpdesk walks; process flows
(`flows/*.yaml`, kind "flow") describe how the system behaves, so staff can explain a flow;
flow nodes may use `step` kinds "system" (the system does something), "patron" (the
patron does something) and "staff" (a staff member does something) next to question and end.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bibid.library.loginaccounts import menu

HERE = Path(__file__).resolve().parent
# identity's library API operationIds the helpdesk may offer as a fix: the changing items
# of the Inlogaccount menu's one table.
OPERATIONS = menu.FIX_OPERATIONS


# The kinds only a process flow has: who does this step.
FLOW_STEPS = ("system", "patron", "staff")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    next: str


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["check", "action", "question", "advice", "end", "system", "patron", "staff"]
    step: str = Field(min_length=1, description="The seed step this node comes from.")
    title: str = Field(min_length=1, description="Short Dutch label, drawn in the chart.")
    text: str = ""  # longer Dutch text (advice, question, what the system does)
    check: str | None = None
    ok: str | None = None
    found: str | None = None
    # A check with several finding codes may send some of them elsewhere than `found`.
    routes: dict[str, str] = Field(default_factory=dict)
    operation: str | None = None
    next: str | None = None
    answers: list[Answer] = Field(default_factory=list)
    result: Literal["solved", "escalate"] | None = None
    confirm: bool = False
    waits_for_patron: bool = False

    @model_validator(mode="after")
    def _shape(self) -> Node:
        need = {
            "check": ("check", "ok", "found"),
            "action": ("operation", "next"),
            "advice": ("next",),
            "system": ("next",),
            "patron": ("next",),
            "staff": ("next",),
            "end": ("result",),
        }.get(self.kind, ())
        missing = [name for name in need if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"a {self.kind} node needs {', '.join(missing)}")
        if self.kind == "question" and len(self.answers) < 2:
            raise ValueError("a question needs at least two answers")
        if self.operation is not None and self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}")
        if self.kind != "action" and (self.confirm or self.waits_for_patron):
            raise ValueError("only an action has confirm or waits_for_patron")
        if self.kind != "check" and self.routes:
            raise ValueError("only a check has routes")
        return self

    def targets(self) -> list[str]:
        found = [
            self.ok,
            self.found,
            self.next,
            *self.routes.values(),
            *(a.next for a in self.answers),
        ]
        return [t for t in found if t]


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: int = Field(ge=1)
    kind: Literal["procedure", "flow"]
    title: str
    seed: str = Field(description="The seed section this encodes, word for word.")
    problem: str | None = None  # the diagnosis problem code (procedures only)
    start: str
    nodes: dict[str, Node]

    @model_validator(mode="after")
    def _graph(self) -> Definition:
        if self.start not in self.nodes:
            raise ValueError(f"start node {self.start!r} does not exist")
        for name, node in self.nodes.items():
            for target in node.targets():
                if target not in self.nodes:
                    raise ValueError(f"node {name!r} leads to unknown node {target!r}")
        reached, todo = set(), [self.start]
        while todo:
            name = todo.pop()
            if name not in reached:
                reached.add(name)
                todo.extend(self.nodes[name].targets())
        unreachable = sorted(set(self.nodes) - reached)
        if unreachable:
            raise ValueError(f"unreachable nodes: {', '.join(unreachable)}")
        if not any(n.kind == "end" for n in self.nodes.values()):
            raise ValueError("a definition needs at least one end")
        if self.kind == "procedure" and any(n.kind in FLOW_STEPS for n in self.nodes.values()):
            raise ValueError("system/patron/staff nodes belong in process flows")
        return self


class DefinitionError(Exception):
    pass


def parse(path: Path) -> Definition:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        definition = Definition.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise DefinitionError(f"{path.name}: {exc}") from exc
    if definition.id != path.stem:
        raise DefinitionError(f"{path.name}: id {definition.id!r} must match the file name")
    return definition


@cache
def all_definitions() -> dict[str, Definition]:
    """Every definition, by id; a broken file stops the service at start-up (the system check
    in system_checks.py), never halfway through a diagnosis."""
    found = {}
    for folder in ("procedures", "flows"):
        for path in sorted((HERE / folder).glob("*.yaml")):
            definition = parse(path)
            found[definition.id] = definition
    return found


def get(definition_id: str) -> Definition:
    return all_definitions()[definition_id]


def procedures() -> list[Definition]:
    return [d for d in all_definitions().values() if d.kind == "procedure"]


def first_node_of_check(definition: Definition, check: str) -> tuple[str, Node] | None:
    """The first node (in the order of the file) that runs `check`: where a finding off the
    walked path is placed."""
    return next(
        (
            (name, node)
            for name, node in definition.nodes.items()
            if node.kind == "check" and node.check == check
        ),
        None,
    )


def procedure_for(problem: str) -> Definition:
    for definition in all_definitions().values():
        if definition.kind == "procedure" and definition.problem == problem:
            return definition
    raise KeyError(problem)
