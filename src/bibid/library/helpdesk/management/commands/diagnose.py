"""bibid diagnose --library L --card N --problem P [--username U] [--json]

The helpdesk's diagnosis from the terminal: the same operation and the same JSON as the
console and the REST API (`diagnosis_run`). Runs as the system (an operator), recorded as
a case via "cli"; the colleague rule holds here too (outcome `not-allowed`).
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.helpdesk.diagnosis import PROBLEMS, run
from bibid.library.staff.permissions import Actor


class Command(BaseCommand):
    help = "Diagnose a customer's login problem the way the helpdesk procedure does."

    def add_arguments(self, parser):
        parser.add_argument("--library", required=True, help="The library's code.")
        parser.add_argument("--card", required=True, help="The customer's card number.")
        parser.add_argument("--problem", required=True, choices=PROBLEMS)
        parser.add_argument(
            "--username", default=None, help="The username the customer says they type."
        )
        parser.add_argument("--json", action="store_true", help="Print JSON.")
        parser.add_argument("--language", default="nl", choices=["nl", "en"])

    def handle(self, *args, library, card, problem, username, json: bool, language, **opts):
        customer = (
            Customer.objects.filter(library__code=library, card_number=card)
            .select_related("library")
            .first()
        )
        if customer is None:
            raise CommandError(f"No customer {card} at library {library!r}.")
        with translation.override(language):
            try:
                result = run(
                    actor=Actor.system("cli"), customer=customer, problem=problem, username=username
                )
            except Problem as problem_:
                raise CommandError(problem_.text(language)) from problem_
            data = result.as_json()
        if json:
            self.stdout.write(_dumps(data))
            return
        self.stdout.write(f"{customer.name} ({card}, {library}): {data['outcome']}")
        for i, finding in enumerate(data["findings"]):
            self._finding("→" if i == 0 else " ", finding)
        if data["also_seen"]:
            self.stdout.write("also seen (off the path):")
            for finding in data["also_seen"]:
                self._finding("+", finding)
        step = data["next"]
        if step["kind"] == "fix" and step["fix"]:
            self.stdout.write(
                f"next: fix {step['fix']['operation']} ({step['fix']['label']}) at {step['node']}"
            )
        elif step["kind"] == "question":
            self.stdout.write(f"next: ask {step['title']} [{' | '.join(step['answers'])}]")
        else:
            self.stdout.write(
                f"next: {step['kind']} {step['title']} {step['result'] or ''}".rstrip()
            )
        self.stdout.write("path: " + " → ".join(f"{p['node']}:{p['result']}" for p in data["path"]))

    def _finding(self, marker: str, finding: dict) -> None:
        self.stdout.write(f"{marker} [{finding['code']}] {finding['summary']}")
        self.stdout.write(f"    {finding['step']}: {finding['title']}")
        for line in finding["evidence"]:
            self.stdout.write(f"    - {line}")
        if finding["fix"]:
            self.stdout.write(f"    fix: {finding['fix']['operation']} ({finding['fix']['label']})")
        elif finding["question"]:
            self.stdout.write(f"    ask: {finding['question']}")


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
