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


LIBRARIES = (
    DemoLibrary(
        code="aan-de-maas",
        name="Bibliotheek aan de Maas",
        client_id="demo-aan-de-maas",
        client_secret="demo-secret-aan-de-maas-" + "Rk7tQ2vX9pLm4Wn8Zc3Hb6Jy1Ds5Fg0A" * 3,
    ),
    DemoLibrary(
        code="duinstreek",
        name="Bibliotheek Duinstreek",
        client_id="demo-duinstreek",
        client_secret="demo-secret-duinstreek-" + "Pq5Nw2Er8Ty4Ui7Op1As3Df6Gh9Jk0L" * 3,
    ),
)
