"""Diagnose a customer's problem: one status call to identity, every automated check of the
procedure, then the procedure's definition decides. The walk through its flowchart gives
the path; the first finding on that path is the cause; the node where the walk stops is
what to do next (a fix, a question, an end); findings of checks the walk did not pass are
"also seen", each with its own evidence. Recorded as a case. Apply the fix of a finding,
then diagnose again and say whether its effect is confirmed.

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
from bibid.library.loginaccounts import menu, pushes
from bibid.library.loginaccounts import services as accounts
from bibid.library.staff import audit
from bibid.library.staff.permissions import Actor, Perm, can

from . import context, definitions, engine
from .checks import REGISTRY
from .findings import CODES, Finding, Fix, Found
from .models import Case

# The Helpdesk box's problems, in the seed's order; system_checks.py holds them against the
# procedures' `problem` codes.
PROBLEMS = ("cannot-login", "no-ebook-rights", "logout-detected", "inactive-account")
# What a staff member needs to carry out each fix: the Inlogaccount menu's permissions,
# read from its one table.
FIX_PERMS = {item.operation_id: item.perm for item in menu.MENU}


class FixState:
    WORKED = "worked"  # the cause is gone and what it pushed reached identity
    NOT_WORKED = "not_worked"  # carried out, but the cause is still there
    WAITING_FOR_PATRON = "waiting_for_patron"  # a mail or a link request the patron answers
    WAITING_FOR_PUSH = "waiting_for_push"  # the rights push it queued has not arrived yet


@dataclass(frozen=True)
class Next:
    """Where the walk stopped: what the staff member does now."""

    kind: str  # "fix" | "question" | "end" (| "none" if the walk ended elsewhere)
    node: str
    title: str
    step: str
    text: str = ""
    finding: Finding | None = None  # kind fix: the finding whose fix it is
    answers: tuple[str, ...] = ()
    result: str = ""  # kind end: solved | escalate

    @property
    def fix(self) -> Fix | None:
        return self.finding.fix if self.finding is not None else None


@dataclass
class Diagnosis:
    problem: str
    customer: Customer
    outcome: str
    findings: list[Finding]  # on the path, in its order: the first is the cause
    also_seen: list[Finding]  # found by checks the walk did not pass
    path: list[engine.PathStep]
    procedure: definitions.Definition
    next: Next
    case: Case | None = None
    typed_username: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)  # action nodes carried out in this case
    # Per finding code: may this staff member carry out its fix? (Unlinking from a family
    # member and lifting a block are the helpdesk's, not the desk's.)
    may_fix: dict[str, bool] = field(default_factory=dict)

    @property
    def cause(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def all_findings(self) -> list[Finding]:
        return [*self.findings, *self.also_seen]

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.all_findings() if f.code == code), None)

    def codes(self) -> list[str]:
        return [f.code for f in self.all_findings()]

    def _finding_json(self, finding: Finding) -> dict[str, Any]:
        return finding.as_json(allowed=self.may_fix.get(finding.code, False))

    def next_json(self) -> dict[str, Any]:
        step = self.next
        return {
            "kind": step.kind,
            "node": step.node,
            "title": step.title,
            "step": step.step,
            "text": step.text,
            "finding": step.finding.code if step.finding is not None else None,
            "fix": step.fix.as_json(allowed=self.may_fix.get(step.finding.code, False))
            if step.fix is not None
            else None,
            "answers": list(step.answers),
            "result": step.result or None,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "customer": {
                "card_number": self.customer.card_number,
                "name": self.customer.name,
                "library": self.customer.library.code,
            },
            "outcome": self.outcome,
            "cause": self._finding_json(self.cause) if self.cause else None,
            "findings": [self._finding_json(f) for f in self.findings],
            "also_seen": [self._finding_json(f) for f in self.also_seen],
            "next": self.next_json(),
            "path": [p.as_json() for p in self.path],
            "procedure": {"id": self.procedure.id, "version": self.procedure.version},
            "answers": dict(self.answers),
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


def may_read(actor: Actor, customer: Customer) -> bool:
    """Whether this staff member may read this customer's cases: the diagnosis's own rule
    (a colleague's or volunteer's cases are theirs alone)."""
    try:
        return _allowed(actor, customer)
    except Problem:
        return False


CHAIN_LIMIT = 50


def chain(case: Case) -> list[Case]:
    """The cases one case belongs to, oldest first: each fix links the diagnosis it came
    from to the one after it (`followed_by`). A bounded number of queries: at most
    CHAIN_LIMIT steps each way."""
    earlier: list[Case] = []
    current = case
    for _step in range(CHAIN_LIMIT):
        previous = Case.objects.filter(followed_by=current).first()
        if previous is None:
            break
        earlier.append(previous)
        current = previous
    later: list[Case] = []
    current = case
    for _step in range(CHAIN_LIMIT):
        if current.followed_by_id is None:
            break
        current = Case.objects.filter(pk=current.followed_by_id).first()
        if current is None:
            break
        later.append(current)
    return [*reversed(earlier), case, *later]


def _may(actor: Actor, fix: Fix) -> bool:
    perms = [FIX_PERMS[fix.operation]]
    if fix.args.get("unlink_from"):
        perms.append(Perm.LOGIN_UNLINK)
    return all(can(actor, perm) for perm in perms)


# -- the definition decides ---------------------------------------------------------------


def _fix_after(
    procedure: definitions.Definition, node: definitions.Node, found: Found
) -> Fix | None:
    """The fix of a finding: the action node the check's node leads to for its code."""
    return _fix_at(procedure, node.routes.get(found.code, node.found), found)


def _fix_at(procedure: definitions.Definition, target_name: str, found: Found) -> Fix | None:
    """The fix an action node offers for a finding (None if the node is no action)."""
    target = procedure.nodes[target_name]
    if target.kind != "action":
        return None
    item = menu.by_operation(target.operation)
    return Fix(
        node=target_name,
        operation=target.operation,
        api_operation=item.api_operation_id,
        label=found.label or target.title,
        args=dict(found.args),
        # Linking is never one click: the patron proves the account is theirs (L2).
        one_click=target.operation != "account_link",
        confirm=target.confirm,
        waits_for_patron=target.waits_for_patron,
    )


def _place(procedure: definitions.Definition, name: str, found: Found) -> Finding:
    node = procedure.nodes[name]
    return Finding(found, name, node.step, node.title, _fix_after(procedure, node, found))


def _no_problem(procedure: definitions.Definition, last: engine.PathStep) -> Finding:
    node = procedure.nodes[last.node]
    return Finding(
        Found(
            "no-problem-found",
            _("In de gegevens is geen oorzaak te zien."),
            (
                _(
                    "Inlogaccount, abonnement, rechten, blokkade en herstel-e-mailadres "
                    "zijn in orde."
                ),
            ),
            question=node.text or _("Laat de klant het nu opnieuw proberen."),
        ),
        last.node,
        node.step,
        node.title,
    )


def _next(
    procedure: definitions.Definition, path: list[engine.PathStep], on_path: list[Finding]
) -> Next:
    last = path[-1]
    node = procedure.nodes[last.node]
    base = {"node": last.node, "title": node.title, "step": node.step, "text": node.text}
    if last.kind == "action" and last.result == "fix":
        finding = next(
            (f for f in reversed(on_path) if f.fix is not None and f.fix.node == last.node), None
        )
        return Next("fix", finding=finding, **base)
    if last.kind == "question" and last.result == "ask":
        return Next("question", answers=tuple(a.label for a in node.answers), **base)
    if last.kind == "end":
        return Next("end", result=node.result or "", **base)
    return Next("none", **base)


def evaluate(
    procedure: definitions.Definition,
    results: dict[str, list[Found]],
    *,
    answers: dict[str, str] | None = None,
    done: list[str] | tuple = (),
) -> tuple[list[engine.PathStep], list[Finding], list[Finding], Next]:
    """Path, findings on it, findings off it, and the next step: from the definition and
    the checks' results alone (no network, no database: the tests feed it directly)."""
    path = engine.walk(procedure, results, answers=answers, done=set(done))
    on_path: list[Finding] = []
    for step in path:
        if step.kind != "check" or step.result == "ok":
            continue
        check = procedure.nodes[step.node].check or ""
        found = next(f for f in results.get(check, []) if f.code == step.result)
        if all(f.code != found.code for f in on_path):
            on_path.append(_place(procedure, step.node, found))
    seen = {f.code for f in on_path}
    also: list[Finding] = []
    for check in dict.fromkeys(engine.check_names(procedure)):
        for found in results.get(check, []):
            if found.code in seen:
                continue
            seen.add(found.code)
            # Placed where the procedure runs that check first (its step, title and fix).
            name, _node = definitions.first_node_of_check(procedure, check)
            also.append(_place(procedure, name, found))
    if not on_path:
        on_path = [_no_problem(procedure, path[-1])]
    last = path[-1]
    if (
        last.kind == "action"
        and last.result == "fix"
        and not any(f.fix is not None and f.fix.node == last.node for f in on_path)
    ):
        # An action reached through the customer's answer (no check leads to it directly):
        # it is the fix of the finding that led to the question, so that the fix endpoint
        # and the page offer exactly what `next` says.
        owner = on_path[-1]
        on_path[-1] = Finding(
            owner.found,
            owner.node,
            owner.step,
            owner.title,
            _fix_at(procedure, last.node, owner.found),
        )
    return path, on_path, also, _next(procedure, path, on_path)


def run(
    *,
    actor: Actor,
    customer: Customer,
    problem: str,
    username: str | None = None,
    answers: dict[str, str] | None = None,
    done: list[str] | tuple = (),
    record: bool = True,
) -> Diagnosis:
    try:
        procedure = definitions.procedure_for(problem)
    except KeyError:
        raise Problem(
            400,
            "unknown_problem",
            gettext_lazy("Onbekend probleem; kies uit: %(p)s."),
            extra={"p": ", ".join(PROBLEMS)},
            field="problem",
        ) from None
    username = (username or "").strip()[:254] or None
    allowed = _allowed(actor, customer)
    status = accounts.status(actor=actor, customer=customer, username=username) if allowed else None
    ctx = context.load(
        customer, problem=problem, typed_username=username, allowed=allowed, status=status
    )
    # Not allowed: only the colleague rule speaks; nothing about the account is read.
    names = dict.fromkeys(engine.check_names(procedure)) if allowed else ["colleague_rule"]
    results = {name: REGISTRY[name]().run(ctx) for name in names}
    path, on_path, also, next_step = evaluate(procedure, results, answers=answers, done=done)
    cause = on_path[0]
    if not allowed:
        outcome = Case.Outcome.NOT_ALLOWED
    elif cause.code == "no-problem-found":
        outcome = Case.Outcome.NONE
    elif next_step.kind == "fix":
        outcome = Case.Outcome.FIX
    else:
        outcome = Case.Outcome.ASK
    diagnosis = Diagnosis(
        problem=problem,
        customer=ctx.customer,
        outcome=str(outcome),
        findings=on_path,
        also_seen=also,
        path=path,
        procedure=procedure,
        next=next_step,
        typed_username=username,
        answers=dict(answers or {}),
        done=list(done),
        may_fix={f.code: _may(actor, f.fix) for f in [*on_path, *also] if f.fix},
    )
    if record:
        diagnosis.case = _record(actor, diagnosis)
        metrics.DIAGNOSES.labels(cause.code).inc()
    return diagnosis


def _record(actor: Actor, diagnosis: Diagnosis) -> Case:
    case = Case.objects.create(
        library=diagnosis.customer.library,
        customer=diagnosis.customer,
        staff=actor.staff,
        who=actor.label,
        via=actor.via,
        problem=diagnosis.problem,
        procedure=diagnosis.procedure.id,
        procedure_version=diagnosis.procedure.version,
        typed_username=diagnosis.typed_username or "",
        outcome=diagnosis.outcome,
        first_code=diagnosis.findings[0].code,
        findings=[f.as_json() for f in diagnosis.findings],
        also_seen=[f.as_json() for f in diagnosis.also_seen],
        path=[p.as_json() for p in diagnosis.path],
        answers=diagnosis.answers,
        done=diagnosis.done,
        ended=diagnosis.path[-1].node if diagnosis.path else "",
    )
    audit.record(
        actor=actor,
        action="diagnosis",
        customer=diagnosis.customer,
        result="ok",
        detail={
            "problem": diagnosis.problem,
            "case": case.pk,
            "outcome": diagnosis.outcome,
            "cause": diagnosis.findings[0].code,
        },
    )
    return case


def answer(*, actor: Actor, case: Case, node: str, label: str) -> Diagnosis:
    """Resume a case at a question with the customer's answer: the question must be the
    one the case's walk stopped at now (a fresh diagnosis decides, not the page)."""
    procedure = definitions.get(case.procedure)
    question = procedure.nodes.get(node)
    if (
        question is None
        or question.kind != "question"
        or label not in [a.label for a in question.answers]
    ):
        raise Problem(
            400,
            "invalid_answer",
            gettext_lazy("Dat antwoord past niet bij deze vraag."),
            field="answer",
        )
    if case.customer is None:
        raise Problem(404, "case_not_found", gettext_lazy("Deze zaak bestaat niet."))
    answers = {**case.answers, node: label}
    diagnosis = run(
        actor=actor,
        customer=case.customer,
        problem=case.problem,
        username=case.typed_username or None,
        answers=answers,
        done=case.done,
        record=False,
    )
    if node not in [step.node for step in diagnosis.path]:
        # The situation changed since the page was drawn: the walk no longer passes this
        # question. Nothing is stored; the caller gets the diagnosis as it is now.
        raise QuestionGone(
            run(
                actor=actor,
                customer=case.customer,
                problem=case.problem,
                username=case.typed_username or None,
                answers=case.answers,
                done=case.done,
                record=False,
            )
        )
    Case.objects.filter(pk=case.pk).update(
        answers=answers,
        path=[p.as_json() for p in diagnosis.path],
        ended=diagnosis.path[-1].node if diagnosis.path else "",
    )
    audit.record(
        actor=actor,
        action="diagnosis_answer",
        customer=case.customer,
        result="ok",
        detail={"case": case.pk, "node": node, "answer": label},
    )
    case.refresh_from_db()
    diagnosis.case = case
    return diagnosis


class WithDiagnosis(Problem):
    """A refusal that carries the diagnosis as it is now (shown again, sent in the problem
    document's data)."""

    def __init__(
        self, status: int, code: str, message, diagnosis: Diagnosis, field: str | None = None
    ) -> None:
        super().__init__(
            status, code, message, field=field, extra={"diagnosis": diagnosis.as_json()}
        )
        self.diagnosis = diagnosis


class QuestionGone(WithDiagnosis):
    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(
            409,
            "question_not_open",
            gettext_lazy("Die vraag is niet meer aan de orde; de diagnose is opnieuw gedaan."),
            diagnosis,
        )


class NoSuchFix(WithDiagnosis):
    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(
            409,
            "no_such_fix",
            gettext_lazy(
                "Deze oplossing is niet (meer) van toepassing; de diagnose is opnieuw gedaan."
            ),
            diagnosis,
            field="code",
        )


class ConfirmFirst(WithDiagnosis):
    """The fix moves an account between people and the staff member has not ticked that they
    checked who is who; nothing was changed. Carries the fresh diagnosis to show again."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(
            400,
            "confirm_first",
            gettext_lazy("Vink eerst aan dat je het hebt gecontroleerd; er is niets gewijzigd."),
            diagnosis,
            field="confirm",
        )


# -- the fix -------------------------------------------------------------------------------


def _carry_out(actor: Actor, customer: Customer, fix: Fix) -> accounts.Outcome:
    item = menu.by_operation(fix.operation)
    if item.key == "generate":
        return accounts.generate(actor=actor, customer=customer)
    if item.key == "link":
        # Not one click (rule L2): this opens the link request; the patron's code or
        # handover confirmation finishes it (confirm_link below). For the partner/child
        # mix-up (unlink_from) nothing is unlinked here: that waits until the patron has
        # proved the account is theirs.
        outcome = accounts.link(
            actor=actor, customer=customer, username=fix.args.get("username") or None
        )
        if fix.args.get("unlink_from"):
            outcome.data["move_from"] = fix.args["unlink_from"]
        return outcome
    return item.operation(actor=actor, customer=customer)


def _settle(
    actor: Actor,
    customer: Customer,
    problem: str,
    username: str | None,
    fix: Fix,
    code: str,
    case: Case | None,
    done: list[str],
) -> tuple[Diagnosis, str]:
    """After a fix: deliver the rights push it queued (so a success is a confirmed one), then
    diagnose again and say what became of it; recorded on the case."""
    pushed = pushes.push_now(customer)
    if fix.waits_for_patron:
        # Carried out: the walk goes past it to what comes next, in this case only.
        done = [*done, fix.node] if fix.node not in done else done
    after = run(actor=actor, customer=customer, problem=problem, username=username, done=done)
    gone = code not in after.codes()
    if not pushed:
        state = FixState.WAITING_FOR_PUSH
    elif gone:
        state = FixState.WORKED
    elif fix.waits_for_patron or not fix.one_click:
        state = FixState.WAITING_FOR_PATRON
    else:
        state = FixState.NOT_WORKED
    worked = {FixState.WORKED: True, FixState.NOT_WORKED: False}.get(state)
    if case is not None:
        Case.objects.filter(pk=case.pk).update(
            fix_operation=fix.operation, fix_worked=worked, fix_state=state, followed_by=after.case
        )
    return after, state


def confirm_link(
    *,
    actor: Actor,
    customer: Customer,
    problem: str,
    request_id: str,
    code: str | None,
    username: str | None = None,
    case: Case | None = None,
    move_from: str | None = None,
) -> tuple[accounts.Outcome, Diagnosis, str]:
    """The second step of an account_link fix: the patron's code (or their confirmation on
    the handover page); then diagnose again, recorded on the case like any other fix.

    `move_from`: the card of the family member the fix takes the account from. Only a
    member of the customer's own subscription qualifies (the card comes back from the
    page), and the account moves only after the patron's proof (accounts.confirm_link)."""
    if case is not None and (case.customer_id != customer.pk or case.problem != problem):
        case = None
    other = None
    if move_from:
        other = (
            Customer.objects.filter(
                library_id=customer.library_id,
                card_number=move_from,
                memberships__subscription__memberships__customer=customer,
            )
            .exclude(pk=customer.pk)
            .select_related("library")
            .first()
        )
        if other is None:
            raise Problem(
                409,
                "no_such_fix",
                gettext_lazy(
                    "Deze oplossing is niet (meer) van toepassing; de diagnose is opnieuw gedaan."
                ),
            )
    done = accounts.confirm_link(
        actor=actor, customer=customer, request_id=request_id, code=code, move_from=other
    )
    fix = Fix(
        node="",
        operation="account_link",
        api_operation="login_account_link",
        label="",
        one_click=False,
    )
    seen = (
        next(
            (
                f["code"]
                for f in [*case.findings, *case.also_seen]
                if (f.get("fix") or {}).get("operation") == "login_account_link"
            ),
            "account-not-linked",
        )
        if case is not None
        else "account-not-linked"
    )
    after, state = _settle(
        actor,
        customer,
        problem,
        username,
        fix,
        seen,
        case,
        list(case.done) if case is not None else [],
    )
    return done, after, state


def apply_fix(
    *,
    actor: Actor,
    customer: Customer,
    problem: str,
    code: str,
    username: str | None = None,
    case: Case | None = None,
    confirmed: bool = False,
) -> tuple[accounts.Outcome, Diagnosis, str]:
    """Carry out the fix of finding `code`, as a fresh diagnosis offers it now (never what
    a form says it should be), then diagnose again and record whether it worked.

    `case`: the diagnosis the staff member saw (of this customer and problem): the fix is
    recorded on it; without one, the fresh diagnosis is recorded as the case.
    `confirmed`: whether the person ticked that they checked (the console's tick box, the
    API's `confirm: true`); a fix whose node asks for it is refused without it. A click
    costs two status calls to identity (before and after), not a third to look ahead."""
    if code not in CODES:
        raise Problem(
            400,
            "unknown_finding",
            gettext_lazy("Onbekende bevinding; gebruik de code van een bevinding uit de diagnose."),
            field="code",
        )
    if case is not None and (case.customer_id != customer.pk or case.problem != problem):
        case = None
    done = list(case.done) if case is not None else []
    before = run(
        actor=actor,
        customer=customer,
        problem=problem,
        username=username,
        done=done,
        answers=case.answers if case is not None else None,
        record=case is None,
    )
    before.case = case or before.case
    finding = before.finding(code)
    if before.outcome == Case.Outcome.NOT_ALLOWED or finding is None or finding.fix is None:
        raise NoSuchFix(before)
    if finding.fix.confirm and not confirmed:
        # Moving an account from one family member to another: the staff member's tick
        # that they checked who is who comes before anything is changed, in every way in.
        raise ConfirmFirst(before)
    # No transaction around it: the fix calls the login service (a slow answer must not hold
    # a transaction and its locks), and each operation keeps its own writes consistent.
    outcome = _carry_out(actor, customer, finding.fix)
    after, state = _settle(actor, customer, problem, username, finding.fix, code, before.case, done)
    return outcome, after, state
