"""Demo facts more than one service needs: the demo libraries and their API credentials.

Plain data, no models: the identity service registers these libraries as OAuth2 clients, and
the library service uses the same credentials to call it. Demo only: `bibid demo` refuses to
load them unless demo mode is on.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoLibrary:
    code: str
    name: str
    client_id: str
    client_secret: str
    card_prefix: str  # the card numbers it hands out; registered at identity as its range


LIBRARIES = (
    DemoLibrary(
        code="aan-de-maas",
        name="Bibliotheek aan de Maas",
        client_id="demo-aan-de-maas",
        client_secret="demo-secret-aan-de-maas-" + "Rk7tQ2vX9pLm4Wn8Zc3Hb6Jy1Ds5Fg0A" * 3,
        card_prefix="2010",
    ),
    DemoLibrary(
        code="duinstreek",
        name="Bibliotheek Duinstreek",
        client_id="demo-duinstreek",
        client_secret="demo-secret-duinstreek-" + "Pq5Nw2Er8Ty4Ui7Op1As3Df6Gh9Jk0L" * 3,
        card_prefix="3020",
    ),
)


# -- Subscription types (the library service's), with the rights each role on it gets --------

EBOOKS_COMPLEET = {"code": "ebooks", "limits": {"loans": 10, "period": "concurrent"}}
AUDIO_COMPLEET = {"code": "audiobooks", "limits": {"loans": 10, "period": "concurrent"}}
EBOOKS_COMPACT = {"code": "ebooks", "limits": {"loans": 6, "period": "year"}}
AUDIO_COMPACT = {"code": "audiobooks", "limits": {"loans": 6, "period": "year"}}
EBOOKS_JEUGD = {"code": "ebooks", "limits": {"loans": 10, "period": "concurrent", "youth": True}}
AUDIO_JEUGD = {"code": "audiobooks", "limits": {"loans": 10, "period": "concurrent", "youth": True}}


@dataclass(frozen=True)
class DemoSubscriptionType:
    code: str
    name: str
    price: str
    min_age: int | None
    max_age: int | None
    family: bool
    rights: dict  # role -> list of rights


SUBSCRIPTION_TYPES = (
    DemoSubscriptionType(
        "basis", "Basis (alleen lenen in de bibliotheek)", "39.00", 18, None, False, {"main": []}
    ),
    DemoSubscriptionType(
        "compact",
        "Volwassen Compact",
        "49.00",
        18,
        None,
        False,
        {"main": [EBOOKS_COMPACT, AUDIO_COMPACT]},
    ),
    DemoSubscriptionType(
        "compleet",
        "Volwassen Compleet",
        "69.00",
        18,
        None,
        False,
        {"main": [EBOOKS_COMPLEET, AUDIO_COMPLEET]},
    ),
    DemoSubscriptionType(
        "jeugd", "Jeugd (tot 18 jaar)", "0.00", 0, 17, False, {"main": [EBOOKS_JEUGD, AUDIO_JEUGD]}
    ),
    DemoSubscriptionType(
        "gezin",
        "Gezin Compleet",
        "99.00",
        18,
        None,
        True,
        {
            "main": [EBOOKS_COMPLEET, AUDIO_COMPLEET],
            "partner": [EBOOKS_COMPLEET, AUDIO_COMPLEET],
            "child": [EBOOKS_JEUGD, AUDIO_JEUGD],
        },
    ),
)


# -- Customers, their login accounts and links: every state the seed's procedures mention ----


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str | None  # None: the patron has not chosen one yet
    state: str  # "active" | "inactive" | "inactive-expired" (older than 24 h)
    recovery_email: str = ""
    blocked: bool = False  # many recent wrong passwords


@dataclass(frozen=True)
class DemoCustomer:
    library: str  # library code
    card_number: str
    name: str
    birth_date: str  # ISO
    email: str
    kind: str = "regular"  # "regular" | "colleague" | "volunteer"
    subscription: str | None = None  # type code
    subscription_role: str = "main"
    family_of: str | None = None  # card number of the main member
    subscription_ended: bool = False
    account: DemoAccount | None = None
    linked_account: str | None = None  # username linked to this customer, if not its own
    authorization: str = "current"  # "current" | "outdated" | "none"
    state: str = ""  # the state this customer demonstrates, for people and scripts
    note: str = ""


CUSTOMERS = (
    DemoCustomer(
        "aan-de-maas",
        "2010000001",
        "Anna Jansen",
        "1984-05-06",
        "anna.jansen@example.org",
        subscription="compleet",
        account=DemoAccount(
            "anna.jansen", "Lezen-in-de-zon-2026", "active", "anna.jansen@example.org"
        ),
        state="active-authorized",
        note="alles in orde",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000002",
        "Bram de Vries",
        "1991-02-17",
        "bram.devries@example.org",
        subscription="compleet",
        account=DemoAccount("bram.devries", None, "inactive", "bram.devries@example.org"),
        state="inactive",
        note="inlogaccount wacht op activering",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000003",
        "Carla Smit",
        "1977-09-30",
        "carla.smit@example.org",
        subscription="compact",
        account=DemoAccount("carla.smit", None, "inactive-expired", "carla.smit@example.org"),
        state="inactive-expired",
        note="inactief en ouder dan 24 uur: wordt binnen 5 minuten verwijderd",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000004",
        "Dirk Bakker",
        "1969-12-01",
        "dirk.bakker@example.org",
        subscription="compleet",
        account=DemoAccount(
            "dirk.bakker",
            "Boekenkast-vol-verhalen",
            "active",
            "dirk.bakker@example.org",
            blocked=True,
        ),
        state="blocked",
        note="14 verkeerde wachtwoorden: even geblokkeerd",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000005",
        "Eva Visser",
        "2001-07-12",
        "eva.visser@example.org",
        subscription="compleet",
        account=DemoAccount("eva.visser", "Fietsen-naar-de-bieb", "active", ""),
        state="recovery-email-missing",
        note="geen herstel-e-mailadres",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000006",
        "Fatima el Amrani",
        "1995-03-03",
        "fatima.elamrani@example.org",
        subscription="compleet",
        state="no-login-account",
        note="nog geen inlogaccount",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000007",
        "Gerrit Mulder",
        "1958-11-23",
        "gerrit.mulder@example.org",
        subscription="compleet",
        account=DemoAccount(
            "gerrit.mulder", "Vroeger-las-ik-strips", "active", "gerrit.mulder@example.org"
        ),
        authorization="outdated",
        state="authorization-outdated",
        note="abonnement gewijzigd, rechten bij de inlogdienst verouderd",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000008",
        "Hanna Koster",
        "1988-04-09",
        "hanna.koster@example.org",
        subscription="compleet",
        subscription_ended=True,
        account=DemoAccount(
            "hanna.koster", "Thee-en-een-goed-boek", "active", "hanna.koster@example.org"
        ),
        state="subscription-ended",
        note="abonnement afgelopen",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000009",
        "Ingrid Peters",
        "1973-06-15",
        "ingrid.peters@example.org",
        subscription="basis",
        account=DemoAccount(
            "ingrid.peters", "Tulpen-in-april-lezen", "active", "ingrid.peters@example.org"
        ),
        state="subscription-without-ebooks",
        note="abonnement zonder e-books",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000010",
        "Jeroen Bos",
        "1982-08-21",
        "jeroen.bos@example.org",
        subscription="gezin",
        linked_account="lotte.bos",
        state="child-account-linked-to-parent",
        note="het inlogaccount van dochter Lotte is aan vader Jeroen gekoppeld",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000011",
        "Karin Bos",
        "1984-01-30",
        "karin.bos@example.org",
        subscription="gezin",
        subscription_role="partner",
        family_of="2010000010",
        state="no-login-account",
        note="partner, gezin Bos",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000012",
        "Lotte Bos",
        "2016-05-14",
        "",
        subscription="gezin",
        subscription_role="child",
        family_of="2010000010",
        account=DemoAccount("lotte.bos", "Paarden-en-draken-10", "active", "karin.bos@example.org"),
        linked_account="-",
        authorization="none",
        state="account-linked-to-other-family-member",
        note="kind; haar inlogaccount zit (verkeerd) aan haar vader vast",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000013",
        "Mohamed Yilmaz",
        "1990-10-10",
        "m.yilmaz@example.org",
        subscription="compleet",
        account=DemoAccount(
            "mohamed.yilmaz", "Zomer-aan-zee-2026", "active", "m.yilmaz@oud-adres.example"
        ),
        state="recovery-email-differs",
        note="herstel-e-mailadres is een oud adres, anders dan bij de bibliotheek",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000014",
        "Nina de Groot",
        "1993-12-24",
        "nina.degroot@example.org",
        kind="colleague",
        subscription="compleet",
        account=DemoAccount(
            "nina.degroot", "Collega-met-leesbril", "active", "nina.degroot@example.org"
        ),
        state="colleague",
        note="collega: medewerkers zien haar inlogaccount niet",
    ),
    DemoCustomer(
        "aan-de-maas",
        "2010000015",
        "Otto Vermeer",
        "1950-02-02",
        "otto.vermeer@example.org",
        kind="volunteer",
        subscription="compact",
        account=DemoAccount(
            "otto.vermeer", "Vrijwilliger-op-dinsdag", "active", "otto.vermeer@example.org"
        ),
        state="volunteer",
        note="vrijwilliger: medewerkers zien zijn inlogaccount niet",
    ),
    DemoCustomer(
        "duinstreek",
        "3020000001",
        "Anna Jansen",
        "1984-05-06",
        "anna.jansen@example.org",
        subscription="compact",
        linked_account="anna.jansen",
        state="active-authorized",
        note="hetzelfde inlogaccount als bij Bibliotheek aan de Maas",
    ),
    DemoCustomer(
        "duinstreek",
        "3020000002",
        "Piet Hendriks",
        "1979-07-07",
        "piet.hendriks@example.org",
        subscription="compleet",
        account=DemoAccount(
            "piet.hendriks", "Duinen-en-boeken-2026", "active", "piet.hendriks@example.org"
        ),
        state="active-authorized",
        note="alles in orde",
    ),
    DemoCustomer(
        "duinstreek",
        "3020000003",
        "Sanne de Wit",
        "2009-03-18",
        "sanne.dewit@example.org",
        subscription="jeugd",
        state="no-login-account",
        note="jeugdlid zonder inlogaccount",
    ),
)


@dataclass(frozen=True)
class DemoStaff:
    library: str
    username: str
    password: str
    name: str
    role: str  # "desk" | "helpdesk" | "manager"
    customer: str | None = None  # their own customer card number


STAFF = (
    DemoStaff("aan-de-maas", "balie.maas", "Balie-aan-de-Maas-2026", "Bas Baliemedewerker", "desk"),
    DemoStaff(
        "aan-de-maas", "helpdesk.maas", "Helpdesk-aan-de-Maas-2026", "Hilde Helpdesk", "helpdesk"
    ),
    DemoStaff("aan-de-maas", "manager.maas", "Manager-aan-de-Maas-2026", "Mark Manager", "manager"),
    DemoStaff(
        "aan-de-maas",
        "nina",
        "Nina-werkt-hier-2026",
        "Nina de Groot",
        "desk",
        customer="2010000014",
    ),
    DemoStaff("duinstreek", "balie.duin", "Balie-Duinstreek-2026", "Daan Duin", "desk"),
    DemoStaff(
        "duinstreek", "helpdesk.duin", "Helpdesk-Duinstreek-2026", "Hester Helder", "helpdesk"
    ),
    DemoStaff("duinstreek", "manager.duin", "Manager-Duinstreek-2026", "Merel Meijer", "manager"),
)


def demo_accounts() -> list[DemoAccount]:
    return [c.account for c in CUSTOMERS if c.account]


def account_public_id(username: str) -> str:
    """A stable public id per demo account, so that both services agree without talking."""
    import uuid

    return str(uuid.uuid5(uuid.UUID("7a6b2d1e-5f3c-4b8a-9e0d-1c2b3a4d5e6f"), username))


def links() -> list[tuple[str, str, str, str]]:
    """(library code, card number, username, authorization) for every demo link."""
    result = []
    for customer in CUSTOMERS:
        username = customer.linked_account or (
            customer.account.username if customer.account else None
        )
        if username and username != "-":
            result.append(
                (customer.library, customer.card_number, username, customer.authorization)
            )
    return result


# -- Services patrons sign in to through the login (OpenID Connect clients) ---------------


@dataclass(frozen=True)
class DemoService:
    kind: str  # "mijnmenu" | "reading"
    name: str
    client_id: str
    client_secret: str
    service: str  # which of our services runs it
    path: str  # where its sign-in pages are mounted, e.g. "/mijn/aan-de-maas"
    library: str = ""


READING_SERVICE = DemoService(
    kind="reading",
    name="Online Bibliotheek",
    client_id="online-bibliotheek",
    client_secret="demo-secret-online-bibliotheek-" + "Vb3Nm8Qw2Er5Ty7Ui9Op4As6Df1Gh0J" * 3,
    service="reading",
    path="",
)


def mijnmenu_service(library: DemoLibrary) -> DemoService:
    return DemoService(
        kind="mijnmenu",
        name=f"Mijn Menu {library.name}",
        client_id=f"mijnmenu-{library.code}",
        client_secret=(
            f"demo-secret-mijnmenu-{library.code}-" + "Hj4Kl7Zx2Cv5Bn8Mq1Wr3Ts6Yu9Ia0P" * 3
        ),
        service="library",
        path=f"/mijn/{library.code}",
        library=library.code,
    )


def services() -> list[DemoService]:
    return [READING_SERVICE, *[mijnmenu_service(lib) for lib in LIBRARIES]]
