"""Diagnose a customer's problem: one status call to identity, every automated check of the
procedure, the findings in the seed's order, the path through the flowchart; recorded as a
case. Apply the fix a finding offers, then diagnose again to show whether it worked.

The permission rules are those of the Inlogaccount menu (loginaccounts.check): role,
tenant, and the colleague rule, which here gives the outcome `not-allowed` rather than an
error, so the console, the API and the command line all say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bibid.common import metrics
from bibid.common.problems import Problem
from bibid.library.customers.models import Customer
from bibid.library.loginaccounts import menu
from bibid.library.loginaccounts import services as accounts
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor, Perm, can

from . import context, definitions, engine
from .checks import REGISTRY
from .findings import Finding, Fix, in_seed_order
from .models import Case

PROBLEMS = ("cannot-login", "no-ebook-rights", "logout-detected", "inactive-account")
# What a staff member needs to carry out each fix: the Inlogaccount menu's permissions,
# read from its one table.
FIX_PERMS = {item.operation_id: item.perm for item in menu.MENU}


@dataclass
class Diagnosis:
    problem: str
    customer: Customer
    outcome: str
    findings: list[Finding]
    path: list[engine.PathStep]
    procedure: definitions.Definition
    case: Case | None = None
    typed_username: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    # Per finding code: may this staff member carry out its fix? (Unlinking from a family
    # member and lifting a block are the helpdesk's, not the desk's.)
    may_fix: dict[str, bool] = field(default_factory=dict)

    @property
    def cause(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def _finding_json(self, finding: Finding) -> dict[str, Any]:
        data = finding.as_json()
        if data["fix"] is not None:
            data["fix"]["allowed"] = self.may_fix.get(finding.code, False)
        return data

    def as_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "customer": {"card_number": self.customer.card_number, "name": self.customer.name,
                         "library": self.customer.library.code},
            "outcome": self.outcome,
            "findings": [self._finding_json(f) for f in self.findings],
            "path": [p.as_json() for p in self.path],
            "procedure": {"id": self.procedure.id, "version": self.procedure.version},
            "case": self.case.pk if self.case else None,
        }


def _allowed(actor: Actor, customer: Customer) -> bool:
    if customer.is_private and (actor.staff is None or actor.staff.customer_id != customer.pk):
        # The seed's LET OP holds for every way in, the command line's system actor too.
        return False
    try:
        accounts.check(actor, customer, Perm.DIAGNOSE)
    except Problem as problem:
        if problem.code == "private_customer":
            return False
        raise
    return True


def _may(actor: Actor, finding: Finding) -> bool:
    perms = [FIX_PERMS[finding.fix.operation]]
    if finding.fix.args.get("unlink_from"):
        perms.append(Perm.LOGIN_UNLINK)
    return all(can(actor, perm) for perm in perms)


def _no_problem() -> Finding:
    return Finding(
        "no-problem-found", "Stap 5, 9, 12 (kan de klant nu inloggen?)",
        _("In de gegevens is geen oorzaak te zien."),
        (_("Inlogaccount, abonnement, rechten, blokkade en herstel-e-mailadres zijn in orde."),),
        question=_("Laat de klant het nu opnieuw proberen; lukt het niet, loop dan de vragen "
                   "door (spam-box, opgeslagen wachtwoord, andere browser, privévenster)."))


def run(*, actor: Actor, customer: Customer, problem: str, username: str | None = None,
        answers: dict[str, str] | None = None, record: bool = True) -> Diagnosis:
    try:
        procedure = definitions.procedure_for(problem)
    except KeyError:
        raise Problem(400, "unknown_problem", gettext_lazy(
            "Onbekend probleem; kies uit: %(p)s."), extra={"p": ", ".join(PROBLEMS)},
            field="problem") from None
    username = (username or "").strip()[:254] or None
    allowed = _allowed(actor, customer)
    status = accounts.status(actor=actor, customer=customer, username=username) \
        if allowed else {}
    ctx = context.load(customer, problem=problem, typed_username=username, allowed=allowed,
                       status=status)
    # Not allowed: only the colleague rule speaks; nothing about the account is read.
    names = dict.fromkeys(engine.check_names(procedure)) if allowed else ["colleague_rule"]
    results = {name: REGISTRY[name]().run(ctx) for name in names}
    seen: set[str] = set()
    findings = []
    for finding in in_seed_order([f for found in results.values() for f in found]):
        if finding.code not in seen:
            seen.add(finding.code)
            findings.append(finding)
    if not allowed:
        outcome = Case.Outcome.NOT_ALLOWED
    elif findings:
        outcome = Case.Outcome.FIX if findings[0].fix else Case.Outcome.ASK
    else:
        outcome = Case.Outcome.NONE
        findings = [_no_problem()]
    path = engine.walk(procedure, results, answers=answers)
    diagnosis = Diagnosis(problem=problem, customer=ctx.customer, outcome=str(outcome),
                          findings=findings, path=path, procedure=procedure,
                          typed_username=username, answers=dict(answers or {}),
                          may_fix={f.code: _may(actor, f) for f in findings if f.fix})
    if record:
        diagnosis.case = _record(actor, diagnosis)
        metrics.DIAGNOSES.labels(findings[0].code).inc()
    return diagnosis


def _record(actor: Actor, diagnosis: Diagnosis) -> Case:
    case = Case.objects.create(
        library=diagnosis.customer.library, customer=diagnosis.customer, staff=actor.staff,
        who=actor.label, via=actor.via, problem=diagnosis.problem,
        procedure=diagnosis.procedure.id, procedure_version=diagnosis.procedure.version,
        typed_username=diagnosis.typed_username or "", outcome=diagnosis.outcome,
        first_code=diagnosis.findings[0].code,
        findings=[f.as_json() for f in diagnosis.findings],
        path=[p.as_json() for p in diagnosis.path], answers=diagnosis.answers,
        ended=diagnosis.path[-1].node if diagnosis.path else "",
    )
    audit.record(actor=actor, action="diagnosis", customer=diagnosis.customer,
                 result="ok", detail={"problem": diagnosis.problem, "case": case.pk,
                                      "outcome": diagnosis.outcome,
                                      "cause": diagnosis.findings[0].code})
    return case


def answer(*, actor: Actor, case: Case, node: str, label: str) -> Diagnosis:
    """Resume a case at a question with the customer's answer."""
    procedure = definitions.get(case.procedure)
    question = procedure.nodes.get(node)
    if question is None or question.kind != "question" or \
            label not in [a.label for a in question.answers]:
        raise Problem(400, "invalid_answer", gettext_lazy("Dat antwoord past niet bij deze "
                                                          "vraag."), field="answer")
    answers = {**case.answers, node: label}
    diagnosis = run(actor=actor, customer=case.customer, problem=case.problem,
                    username=case.typed_username or None, answers=answers, record=False)
    Case.objects.filter(pk=case.pk).update(
        answers=answers, path=[p.as_json() for p in diagnosis.path],
        ended=diagnosis.path[-1].node if diagnosis.path else "")
    audit.record(actor=actor, action="diagnosis_answer", customer=case.customer, result="ok",
                 detail={"case": case.pk, "node": node, "answer": label})
    case.refresh_from_db()
    diagnosis.case = case
    return diagnosis


# -- the fix -------------------------------------------------------------------------------


def _carry_out(actor: Actor, customer: Customer, fix: Fix) -> accounts.Outcome:
    item = menu.by_operation(fix.operation)
    if item is None or item.operation_id not in menu.FIX_OPERATIONS:
        raise Problem(409, "no_such_fix", gettext_lazy("Deze oplossing bestaat niet."))
    if item.key == "generate":
        return accounts.generate(actor=actor, customer=customer)
    if item.key == "link":
        # Not one click any more (rule L2): this opens the link request; the patron's code
        # or handover confirmation finishes it (confirm_link below). For the partner/child
        # mix-up (unlink_from) nothing is unlinked here: that waits until the patron has
        # proved the account is theirs.
        outcome = accounts.link(actor=actor, customer=customer,
                                username=fix.args.get("username") or None)
        if fix.args.get("unlink_from"):
            outcome.data["move_from"] = fix.args["unlink_from"]
        return outcome
    return item.operation(actor=actor, customer=customer)


def confirm_link(*, actor: Actor, customer: Customer, problem: str, request_id: str,
                 code: str | None, username: str | None = None, case: Case | None = None,
                 move_from: str | None = None) -> tuple[accounts.Outcome, Diagnosis]:
    """The second step of an account_link fix: the patron's code (or their confirmation on
    the handover page); then diagnose again, recorded on the case like any other fix.

    `move_from`: the card of the family member the fix takes the account from. Only a
    member of the customer's own subscription qualifies (the card comes back from the
    page), and the account moves only after the patron's proof (accounts.confirm_link)."""
    other = None
    if move_from:
        other = (Customer.objects.filter(
            library_id=customer.library_id, card_number=move_from,
            memberships__subscription__memberships__customer=customer)
            .exclude(pk=customer.pk).select_related("library").first())
        if other is None:
            raise Problem(409, "no_such_fix", gettext_lazy(
                "Deze oplossing is niet (meer) van toepassing; de diagnose is opnieuw gedaan."))
    done = accounts.confirm_link(actor=actor, customer=customer, request_id=request_id,
                                 code=code, move_from=other)
    after = run(actor=actor, customer=customer, problem=problem, username=username)
    if case is not None and case.customer_id == customer.pk:
        worked = not any(f.fix and f.fix.operation == "account_link" for f in after.findings)
        Case.objects.filter(pk=case.pk).update(fix_operation="account_link", fix_worked=worked,
                                               followed_by=after.case)
    return done, after


class ConfirmFirst(Problem):
    """The fix moves an account between people and the staff member has not ticked that they
    checked who is who; nothing was changed. Carries the fresh diagnosis to show again."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(400, "confirm_first", gettext_lazy(
            "Vink eerst aan dat je het hebt gecontroleerd; er is niets gewijzigd."))
        self.diagnosis = diagnosis


def apply_fix(*, actor: Actor, customer: Customer, problem: str, code: str,
              username: str | None = None, case: Case | None = None,
              confirmed: bool = True) -> tuple[accounts.Outcome, Diagnosis]:
    """Carry out the fix of finding `code`, as a fresh diagnosis offers it now (never what
    a form says it should be), then diagnose again and record whether the cause is gone.

    `case`: the diagnosis the staff member saw (of this customer and problem): the fix is
    recorded on it; without one, the fresh diagnosis is recorded as the case.
    `confirmed`: whether the person asked for a fix that is not one click (the console's
    tick box); the fresh diagnosis decides whether it was needed, so a click costs two status
    calls to identity (before and after), not a third to look ahead."""
    if case is not None and (case.customer_id != customer.pk or case.problem != problem):
        case = None
    before = run(actor=actor, customer=customer, problem=problem, username=username,
                 record=case is None)
    before.case = case or before.case
    finding = next((f for f in before.findings if f.code == code), None)
    if before.outcome == Case.Outcome.NOT_ALLOWED or finding is None or finding.fix is None:
        raise Problem(409, "no_such_fix", gettext_lazy(
            "Deze oplossing is niet (meer) van toepassing; de diagnose is opnieuw gedaan."))
    if not confirmed and finding.fix.args.get("unlink_from"):
        # Moving an account from one family member to another: the staff member's tick
        # that they checked who is who comes before anything is changed.
        raise ConfirmFirst(before)
    # No transaction around it: the fix calls the login service (a slow answer must not hold
    # a transaction and its locks), and each operation keeps its own writes consistent.
    done = _carry_out(actor, customer, finding.fix)
    after = run(actor=actor, customer=customer, problem=problem, username=username)
    worked = code not in [f.code for f in after.findings]
    Case.objects.filter(pk=before.case.pk).update(
        fix_operation=finding.fix.operation, fix_worked=worked, followed_by=after.case)
    return done, after
