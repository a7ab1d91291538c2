"""Demo catalogue: classics in the public domain and a few invented youth titles.

Dutch and some English; e-books and audiobooks, some of a work in both forms (the rights count
them apart); a third of them for youth. Summaries are our own. The ISBNs are invented (valid
check digit, a made-up publisher prefix).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.db import transaction

from .models import Title


@dataclass(frozen=True)
class DemoTitle:
    slug: str
    title: str
    author: str
    kind: str  # "ebook" | "audiobook"
    year: int
    summary: str
    language: str = "nl"
    youth: bool = False
    narrator: str = ""
    duration_minutes: int | None = None


def _isbn(number: int) -> str:
    """An ISBN-13 in an invented range (978-90-99999-...), with a valid check digit."""
    digits = f"9789099999{number:02d}"[:12]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


E, A = "ebook", "audiobook"

TITLES: tuple[DemoTitle, ...] = (
    # Dutch classics
    DemoTitle(
        "max-havelaar",
        "Max Havelaar",
        "Multatuli",
        E,
        1860,
        "Een makelaar in koffie vindt het pak papieren van een oud-schoolvriend en leest "
        "over onrecht in Nederlands-Indië. Satirisch, boos en nog altijd actueel.",
    ),
    DemoTitle(
        "max-havelaar-luisterboek",
        "Max Havelaar",
        "Multatuli",
        A,
        1860,
        "Het beroemde boek van Multatuli, voorgelezen in zijn geheel.",
        narrator="Ruud de Haan",
        duration_minutes=812,
    ),
    DemoTitle(
        "woutertje-pieterse",
        "Woutertje Pieterse",
        "Multatuli",
        E,
        1890,
        "Een dromerige jongen in het Amsterdam van de negentiende eeuw verlangt naar "
        "avontuur en waarheid.",
    ),
    DemoTitle(
        "eline-vere",
        "Eline Vere",
        "Louis Couperus",
        E,
        1889,
        "Een jonge vrouw in de Haagse salons zoekt houvast en vindt het nergens.",
    ),
    DemoTitle(
        "eline-vere-luisterboek",
        "Eline Vere",
        "Louis Couperus",
        A,
        1889,
        "Couperus' Haagse roman, voorgelezen.",
        narrator="Marieke Dolman",
        duration_minutes=1065,
    ),
    DemoTitle(
        "de-stille-kracht",
        "De stille kracht",
        "Louis Couperus",
        E,
        1900,
        "Een Nederlandse resident op Java ziet zijn gezag langzaam wegglijden.",
    ),
    DemoTitle(
        "van-oude-menschen",
        "Van oude menschen, de dingen, die voorbijgaan",
        "Louis Couperus",
        A,
        1906,
        "Een familie draagt een geheim van zestig jaar oud met zich mee.",
        narrator="Johan Verhoef",
        duration_minutes=655,
    ),
    DemoTitle(
        "camera-obscura",
        "Camera obscura",
        "Hildebrand",
        E,
        1839,
        "Schetsen van Hollandse types en gewoontes, met milde spot.",
    ),
    DemoTitle(
        "ferdinand-huyck",
        "De lotgevallen van Ferdinand Huyck",
        "Jacob van Lennep",
        E,
        1840,
        "Een jongeman raakt in het achttiende-eeuwse Amsterdam verstrikt in familiegeheimen.",
    ),
    DemoTitle(
        "de-kleine-johannes",
        "De kleine Johannes",
        "Frederik van Eeden",
        A,
        1887,
        "Een jongen leert de taal van de dieren en zoekt het boek dat alles verklaart.",
        narrator="Sanne Wolters",
        duration_minutes=298,
    ),
    DemoTitle(
        "op-hoop-van-zegen",
        "Op hoop van zegen",
        "Herman Heijermans",
        E,
        1900,
        "Een vissersweduwe, een rot schip en een reder die rekent: het toneelstuk dat "
        "tot een wet leidde.",
    ),
    DemoTitle(
        "majoor-frans",
        "Majoor Frans",
        "A.L.G. Bosboom-Toussaint",
        E,
        1874,
        "Een eigenzinnige vrouw die zich niets laat voorschrijven.",
    ),
    DemoTitle(
        "het-fregatschip-johanna-maria",
        "Het fregatschip Johanna Maria",
        "Arthur van Schendel",
        A,
        1930,
        "Een zeilmaker spaart zijn hele leven om het schip te kopen waarop hij voer.",
        narrator="Pieter Brand",
        duration_minutes=342,
    ),
    DemoTitle(
        "het-verboden-rijk",
        "Het verboden rijk",
        "J. Slauerhoff",
        E,
        1932,
        "Een scheepsmarconist en de dichter Camões lopen door elkaar heen.",
    ),
    DemoTitle(
        "romeo-en-julia",
        "Romeo & Julia",
        "William Shakespeare",
        E,
        1597,
        "Twee families in Verona, twee geliefden: in een nieuwe vertaling.",
    ),
    DemoTitle(
        "de-reis-om-de-wereld",
        "De reis om de wereld in tachtig dagen",
        "Jules Verne",
        A,
        1873,
        "Phileas Fogg wedt dat hij de wereld rond kan in tachtig dagen.",
        narrator="Kees Zwart",
        duration_minutes=420,
    ),
    DemoTitle(
        "misdaad-en-straf",
        "Misdaad en straf",
        "Fjodor Dostojevski",
        E,
        1866,
        "Een arme student pleegt een moord en kan het niet meer loslaten.",
    ),
    DemoTitle(
        "oorlog-en-vrede",
        "Oorlog en vrede",
        "Lev Tolstoj",
        E,
        1869,
        "Russische families in de jaren van Napoleon.",
    ),
    # English
    DemoTitle(
        "pride-and-prejudice",
        "Pride and Prejudice",
        "Jane Austen",
        E,
        1813,
        "Elizabeth Bennet and Mr Darcy misjudge each other, at length and with wit.",
        language="en",
    ),
    DemoTitle(
        "pride-and-prejudice-audio",
        "Pride and Prejudice",
        "Jane Austen",
        A,
        1813,
        "Austen's best-loved novel, read in full.",
        language="en",
        narrator="Harriet Cole",
        duration_minutes=703,
    ),
    DemoTitle(
        "frankenstein",
        "Frankenstein; or, The Modern Prometheus",
        "Mary Shelley",
        A,
        1818,
        "A young scientist makes a creature and then abandons it.",
        language="en",
        narrator="Thomas Reed",
        duration_minutes=514,
    ),
    DemoTitle(
        "sherlock-holmes",
        "The Adventures of Sherlock Holmes",
        "Arthur Conan Doyle",
        E,
        1892,
        "Twelve cases for the detective of Baker Street.",
        language="en",
    ),
    DemoTitle(
        "moby-dick",
        "Moby-Dick",
        "Herman Melville",
        E,
        1851,
        "Captain Ahab hunts the white whale.",
        language="en",
    ),
    DemoTitle(
        "jane-eyre",
        "Jane Eyre",
        "Charlotte Brontë",
        A,
        1847,
        "An orphan becomes a governess at Thornfield Hall.",
        language="en",
        narrator="Ellen Marsh",
        duration_minutes=1130,
    ),
    # Youth
    DemoTitle(
        "alice-in-wonderland",
        "De avonturen van Alice in Wonderland",
        "Lewis Carroll",
        E,
        1865,
        "Alice volgt een wit konijn door een hol en belandt in een wereld waar niets klopt.",
        youth=True,
    ),
    DemoTitle(
        "alice-in-wonderland-audio",
        "Alice's Adventures in Wonderland",
        "Lewis Carroll",
        A,
        1865,
        "Alice follows a white rabbit down a hole.",
        language="en",
        youth=True,
        narrator="Lucy Grant",
        duration_minutes=165,
    ),
    DemoTitle(
        "peter-pan",
        "Peter Pan",
        "J.M. Barrie",
        E,
        1911,
        "De jongen die nooit groot wil worden neemt Wendy mee naar Nooitgedachtland.",
        youth=True,
    ),
    DemoTitle(
        "de-wind-in-de-wilgen",
        "De wind in de wilgen",
        "Kenneth Grahame",
        A,
        1908,
        "Mol, Rat, Das en de onbezonnen Pad aan de rivier.",
        youth=True,
        narrator="Anne van Dijk",
        duration_minutes=310,
    ),
    DemoTitle(
        "pinokkio",
        "Pinokkio",
        "Carlo Collodi",
        E,
        1883,
        "Een houten pop die een echte jongen wil worden, en wiens neus groeit als hij liegt.",
        youth=True,
    ),
    DemoTitle(
        "heidi",
        "Heidi",
        "Johanna Spyri",
        A,
        1880,
        "Heidi woont bij haar grootvader hoog in de Alpen.",
        youth=True,
        narrator="Lotte Smits",
        duration_minutes=380,
    ),
    DemoTitle(
        "grimm-sprookjes",
        "Sneeuwwitje en andere sprookjes",
        "Gebroeders Grimm",
        A,
        1812,
        "Twaalf sprookjes om voor te lezen of naar te luisteren.",
        youth=True,
        narrator="Bert Hoogland",
        duration_minutes=140,
    ),
    DemoTitle(
        "schateiland",
        "Schateiland",
        "Robert Louis Stevenson",
        E,
        1883,
        "Jim Hawkins vindt een schatkaart en gaat scheep met de eenbenige Long John Silver.",
        youth=True,
    ),
    DemoTitle(
        "pimmetje-en-de-paddenstoelenstad",
        "Pimmetje en de paddenstoelenstad",
        "Els van Dorp",
        E,
        2019,
        "Pimmetje is zo klein als een duim en woont onder een paddenstoel. Op een dag "
        "is de hele stad verdwenen.",
        youth=True,
    ),
    DemoTitle(
        "pimmetje-gaat-op-reis",
        "Pimmetje gaat op reis",
        "Els van Dorp",
        A,
        2021,
        "Pimmetje vaart in een notendop de beek af, op zoek naar de zee.",
        youth=True,
        narrator="Els van Dorp",
        duration_minutes=75,
    ),
    DemoTitle(
        "floor-en-de-vliegende-fiets",
        "Floor en de vliegende fiets",
        "Joost Brinkman",
        E,
        2022,
        "Floor vindt op zolder een fiets die opstijgt als je hard genoeg trapt.",
        youth=True,
    ),
    DemoTitle(
        "het-geheim-van-de-bibliotheekkat",
        "Het geheim van de bibliotheekkat",
        "Noor Achterberg",
        A,
        2023,
        "Waarom zit de kat van de bibliotheek elke nacht bij de kast met atlassen?",
        youth=True,
        narrator="Noor Achterberg",
        duration_minutes=95,
    ),
)


def exists() -> bool:
    return Title.objects.exists()


@transaction.atomic
def load() -> int:
    """Add or update every demo title by its slug (running it twice changes nothing more)."""
    for number, entry in enumerate(TITLES, start=1):
        fields = asdict(entry)
        slug = fields.pop("slug")
        fields["identifier"] = _isbn(number)
        Title.objects.update_or_create(slug=slug, defaults=fields)
    return len(TITLES)


def summary() -> dict:
    """What `bibid demo` and `bibid up` merge into their output."""
    return {"reading_titles": Title.objects.count()}
