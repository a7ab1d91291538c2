"""Settings of the reading service, from the environment."""

from bibid.common import settings as common

globals().update(common.build("reading", apps=["bibid.common.rp", "bibid.reading.home"]))
