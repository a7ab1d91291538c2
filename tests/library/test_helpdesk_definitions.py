"""The helpdesk's definitions (procedures, the seed's ten process flows and later ones) as data:
every file loads, a broken one is refused with a message that says what is wrong, every walk
ends, and the procedures cover the seed's steps."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from bibid.library.helpdesk import checks, definitions, diagnosis, engine
from bibid.library.helpdesk.findings import Found

FLOWS = {
    "inloggen",
    "wachtwoord-vergeten",
    "gebruikersnaam-vergeten",
    "uitloggen",
    "self-service-lid-worden",
    "self-service-wachtwoord-wijzigen",
    "self-service-emailadres-wijzigen",
    "self-service-gebruikersnaam-wijzigen",
    "self-service-account-verwijderen",
    "balie-lid-worden",
    "inloggen-met-passkey",  # issue 17: the seed predates passkeys
}
# The seed's list under "Stroomschema's", word for word.
SEED_FLOWS = {
    "Inloggen",
    "Wachtwoord vergeten",
    "Gebruikersnaam vergeten",
    "Uitloggen",
    "Self-service lid worden",
    "Self-service wachtwoord wijzigen",
    "Self-service emailadres wijzigen",
    "Self-service gebruikersnaam wijzigen",
    "Self-service account verwijderen",
    "Balie: lid worden",
}
FLOW_KINDS = {"system", "patron", "staff", "question", "advice", "end"}


def all_of(kind: str) -> dict[str, definitions.Definition]:
    return {k: d for k, d in definitions.all_definitions().items() if d.kind == kind}


# -- loading -------------------------------------------------------------------------------


def test_every_definition_loads():
    found = definitions.all_definitions()
    assert set(all_of("flow")) == FLOWS
    assert set(all_of("procedure")) == set(diagnosis.PROBLEMS)
    for folder in ("procedures", "flows"):
        for path in (definitions.HERE / folder).glob("*.yaml"):
            assert path.stem in found, path
            assert found[path.stem].kind == folder.removesuffix("s")


# Flows of what the seed did not have yet, each with the section title it would have.
LATER_FLOWS = {"Inloggen met passkey"}


def test_the_flows_are_the_seeds_ten_and_the_later_ones():
    assert {d.seed for d in all_of("flow").values()} == SEED_FLOWS | LATER_FLOWS


@pytest.mark.parametrize("flow_id", sorted(FLOWS))
def test_flow_nodes_are_complete(flow_id):
    """Every node of a flow can be read to a customer: a kind of a flow, the step it
    comes from, a short title that fits a box, a text."""
    flow = definitions.get(flow_id)
    assert flow.problem is None
    for name, node in flow.nodes.items():
        assert node.kind in FLOW_KINDS, (name, node.kind)
        assert node.step.strip() and node.title.strip() and node.text.strip(), name
        assert len(node.title) <= 60, (name, node.title)
        assert node.check is None and node.operation is None, name
        # Who does a step is its kind: a staff member's step is not drawn as the patron's.
        doer = node.title.split()[0]
        if node.kind in ("patron", "staff"):
            assert doer == {"patron": "Klant", "staff": "Medewerker"}[node.kind], (name, doer)


def test_the_desk_flow_draws_the_staff_member_s_steps_as_staff():
    from bibid.library.helpdesk import charts

    flow = definitions.get("balie-lid-worden")
    assert {n.kind for n in flow.nodes.values()} >= {"staff", "system", "question"}
    svg = charts.render_svg(flow)
    assert "de medewerker doet iets" in svg and charts.COLOURS["staff"][0] in svg


# -- broken definitions are refused, with a clear message ----------------------------------

GOOD_FLOW = """\
id: {id}
version: 1
kind: flow
title: Een stroom
seed: Een stroom
start: first
nodes:
  first:
    kind: patron
    step: stap 1
    title: Klant doet iets
    next: {next}
  ask:
    kind: question
    step: stap 2
    title: Ja of nee?
    answers:
{answers}
  done:
    kind: end
    step: stap 3
    title: Klaar
    result: solved
{extra}"""
TWO_ANSWERS = "      - {label: ja, next: done}\n      - {label: nee, next: done}"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def flow_text(*, id="stroom", next="ask", answers=TWO_ANSWERS, extra=""):
    return GOOD_FLOW.format(id=id, next=next, answers=answers, extra=extra)


def refused(path: Path) -> str:
    with pytest.raises(definitions.DefinitionError) as caught:
        definitions.parse(path)
    message = str(caught.value)
    assert message.startswith(f"{path.name}: "), message  # names the file
    return message


def test_a_good_definition_parses(tmp_path):
    parsed = definitions.parse(write(tmp_path, "stroom", flow_text()))
    assert parsed.id == "stroom" and set(parsed.nodes) == {"first", "ask", "done"}


def test_unknown_next_is_refused(tmp_path):
    message = refused(write(tmp_path, "stroom", flow_text(next="nowhere")))
    assert "node 'first' leads to unknown node 'nowhere'" in message


def test_unreachable_node_is_refused(tmp_path):
    orphan = "  orphan:\n    kind: end\n    step: stap 9\n    title: Los\n    result: escalate\n"
    message = refused(write(tmp_path, "stroom", flow_text(extra=orphan)))
    assert "unreachable nodes: orphan" in message


def test_question_with_one_answer_is_refused(tmp_path):
    message = refused(
        write(tmp_path, "stroom", flow_text(answers="      - {label: ja, next: done}"))
    )
    assert "a question needs at least two answers" in message


def test_action_with_unknown_operation_is_refused(tmp_path):
    text = """\
        id: proc
        version: 1
        kind: procedure
        title: Een procedure
        seed: Een procedure
        start: fix
        nodes:
          fix:
            kind: action
            operation: account_explode
            step: stap 1
            title: Ontplof
            next: done
          done:
            kind: end
            step: stap 2
            title: Klaar
            result: solved
        """
    message = refused(write(tmp_path, "proc", text))
    assert "unknown operation 'account_explode'" in message


def test_id_must_equal_the_file_name(tmp_path):
    message = refused(write(tmp_path, "andere-naam", flow_text(id="stroom")))
    assert "id 'stroom' must match the file name" in message


def test_procedure_with_a_system_node_is_refused(tmp_path):
    text = flow_text().replace("kind: flow", "kind: procedure")
    text = text.replace("kind: patron", "kind: system")
    message = refused(write(tmp_path, "stroom", text))
    assert "system/patron/staff nodes belong in process flows" in message


def test_yaml_syntax_error_is_refused(tmp_path):
    message = refused(write(tmp_path, "stroom", "id: stroom\nnodes: [unclosed\n"))
    assert "line 2" in message  # where it went wrong


def test_node_without_step_is_refused(tmp_path):
    message = refused(write(tmp_path, "stroom", flow_text().replace("    step: stap 3\n", "")))
    assert "step" in message and "Field required" in message


def test_definition_without_an_end_is_refused(tmp_path):
    text = flow_text().replace("    kind: end\n", "    kind: patron\n")
    text = text.replace("    result: solved\n", "    next: first\n")
    assert "a definition needs at least one end" in refused(write(tmp_path, "stroom", text))


# -- procedures: registered checks, problems, the seed's steps -------------------------------


def test_every_check_is_registered():
    for definition in all_of("procedure").values():
        for name, node in definition.nodes.items():
            if node.kind == "check":
                assert node.check in checks.REGISTRY, (definition.id, name, node.check)
        assert set(engine.check_names(definition)) <= set(checks.REGISTRY)


def test_every_procedure_has_its_problem():
    procedures = all_of("procedure")
    assert {p.problem for p in procedures.values()} == set(diagnosis.PROBLEMS)
    for problem in diagnosis.PROBLEMS:
        assert definitions.procedure_for(problem).problem == problem


def mentioned_steps(texts) -> set[int]:
    """The seed's step numbers a set of `step` texts mentions: "Stap 6", "Stap 10-11",
    "Stap 5, 9, 12", "Stap 1 en 5"."""
    found: set[int] = set()
    for text in texts:
        for group in re.findall(r"[Ss]tap\s+(\d+(?:\s*(?:-|–|,|en)\s*\d+)*)", text):
            for part in re.split(r"\s*(?:,|en)\s*", group):
                bounds = re.split(r"\s*[-–]\s*", part)
                found.update(range(int(bounds[0]), int(bounds[-1]) + 1))
    return found


def test_mentioned_steps_reads_ranges_and_lists():
    assert mentioned_steps(["Stap 1 (x)", "Stap 10-11 / y", "Stap 5, 9, 12", "Stap 2 en 4"]) == {
        1,
        2,
        4,
        5,
        9,
        10,
        11,
        12,
    }


@pytest.mark.parametrize(("problem", "steps"), [("cannot-login", 12), ("no-ebook-rights", 6)])
def test_procedure_covers_the_seed_steps(problem, steps):
    procedure = definitions.procedure_for(problem)
    mentioned = mentioned_steps(node.step for node in procedure.nodes.values())
    assert set(range(1, steps + 1)) <= mentioned, sorted(set(range(1, steps + 1)) - mentioned)


def test_the_other_procedures_cite_their_seed_sections():
    for problem, section in (
        ("logout-detected", "AUTHENTICATION.LOGOUT_DETECTED"),
        ("inactive-account", "Inactief inlogaccount"),
    ):
        procedure = definitions.procedure_for(problem)
        assert section in procedure.seed
        assert any(section in node.step for node in procedure.nodes.values())


# -- walking: every choice leads to an end, within the limit ---------------------------------


def finding(code: str) -> Found:
    return Found(code, "test")


def outcomes(node) -> list[list[Found]]:
    """What a check can report: nothing, or each code it declares (routed or `found`)."""
    return [[], *([finding(code)] for code in checks.REGISTRY[node.check].codes)]


def every_walk(definition) -> list[list[engine.PathStep]]:
    """Walk with every combination of check results, answers and fixes that a walk can
    meet, branching only where the walk actually gets to."""
    walks: list[list[engine.PathStep]] = []

    def explore(results, answers, done):
        path = engine.walk(definition, results, answers=answers, done=done)
        for step in path:
            node = definition.nodes[step.node]
            if node.kind == "check" and node.check not in results:
                for outcome in outcomes(node):
                    explore({**results, node.check: outcome}, answers, done)
                return
        last = path[-1]
        node = definition.nodes[last.node]
        if last.result == "ask":
            for answer in node.answers:
                explore(results, {**answers, last.node: answer.label}, done)
        elif last.result == "fix":
            explore(results, answers, done | {last.node})
        else:
            assert node.kind == "end", (definition.id, last)
            walks.append(path)

    explore({}, {}, frozenset())
    return walks


@pytest.mark.parametrize("definition_id", sorted(definitions.all_definitions()))
def test_every_walk_reaches_an_end(definition_id):
    definition = definitions.get(definition_id)
    walks = every_walk(definition)
    assert walks
    seen = {step.node for path in walks for step in path}
    assert seen == set(definition.nodes), sorted(set(definition.nodes) - seen)
    ends = {path[-1].node for path in walks}
    assert ends == {n for n, node in definition.nodes.items() if node.kind == "end"}
    for path in walks:
        assert len(path) < 200


@pytest.mark.parametrize("flow_id", sorted(FLOWS))
def test_flows_walk_without_check_results(flow_id):
    """A flow is walked by answers alone: engine.walk(definition, {}, answers=...)."""
    flow = definitions.get(flow_id)
    for path in every_walk(flow):
        answers = {s.node: s.result for s in path if s.kind == "question"}
        assert engine.walk(flow, {}, answers=answers) == path


def test_a_cycle_is_caught_by_the_walk_limit(tmp_path):
    text = flow_text(answers="      - {label: ja, next: first}\n      - {label: nee, next: done}")
    looping = definitions.parse(write(tmp_path, "stroom", text))
    with pytest.raises(engine.WalkError, match="did not end within 50 steps"):
        engine.walk(looping, {}, answers={"ask": "ja"}, limit=50)
