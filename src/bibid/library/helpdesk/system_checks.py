"""The start-up check of the helpdesk's definitions (Django's system check framework).

`manage.py check`, `runserver`, `migrate` and every management command run it, so a
definition that names a check nobody registered, routes a finding code its check cannot
produce, or offers an operation the Inlogaccount menu does not have stops the service before
it starts, never halfway through a patron's diagnosis.
"""

from __future__ import annotations

from django.core import checks as django_checks

from . import definitions
from .checks import REGISTRY
from .findings import CODES

# The outcomes a diagnosis gives without a check producing them.
NOT_FROM_A_CHECK = {"no-problem-found"}


def problems_in(
    found: dict[str, definitions.Definition] | None = None, registry: dict | None = None
) -> list[str]:
    """Everything wrong with the definitions, as sentences (empty: all well)."""
    registry = REGISTRY if registry is None else registry
    errors: list[str] = []
    try:
        found = definitions.all_definitions() if found is None else found
    except definitions.DefinitionError as error:
        return [str(error)]
    for name, check in registry.items():
        unknown = sorted(set(check.codes) - CODES)
        if unknown:
            errors.append(f"check {name!r} declares unknown finding codes {unknown}")
    problems: dict[str, str] = {}
    for definition in found.values():
        where = f"{definition.id}.yaml"
        if definition.kind == "procedure":
            if not definition.problem:
                errors.append(f"{where}: a procedure needs a problem code")
            elif definition.problem in problems:
                errors.append(
                    f"{where}: problem {definition.problem!r} is also "
                    f"{problems[definition.problem]}'s"
                )
            else:
                problems[definition.problem] = definition.id
        for node_name, node in definition.nodes.items():
            if node.kind != "check":
                continue
            check = registry.get(node.check or "")
            if check is None:
                errors.append(
                    f"{where}: node {node_name!r} names unregistered check {node.check!r}"
                )
                continue
            for code in node.routes:
                if code not in check.codes:
                    errors.append(
                        f"{where}: node {node_name!r} routes {code!r}, which "
                        f"check {node.check!r} never finds"
                    )
    produced = {code for check in registry.values() for code in check.codes}
    for code in sorted(CODES - produced - NOT_FROM_A_CHECK):
        errors.append(f"finding code {code!r} is produced by no registered check")
    return errors


def check_definitions(app_configs=None, **kwargs) -> list[django_checks.CheckMessage]:
    from .diagnosis import PROBLEMS

    errors = problems_in()
    if not errors:
        have = {d.problem for d in definitions.procedures()}
        if have != set(PROBLEMS):
            errors.append(
                f"the Helpdesk box offers {sorted(PROBLEMS)}, the procedures are for {sorted(have)}"
            )
    return [django_checks.Error(text, id="helpdesk.E001") for text in errors]
