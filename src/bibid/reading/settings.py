"""Settings of the reading service, from the environment."""

from bibid.common import settings as common

globals().update(common.build("reading", apps=[
    "bibid.common.rp",
    "bibid.reading.catalogue",
    "bibid.reading.loans",
    "bibid.reading.home",
]))

# Every page shows who is signed in (or where to sign in).
TEMPLATES[0]["OPTIONS"]["context_processors"].append(  # noqa: F821 - set just above
    "bibid.reading.home.context.patron")
