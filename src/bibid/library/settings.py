"""Settings of the library service, from the environment."""

from bibid.common import settings as common

globals().update(common.build("library", apps=["bibid.library.home"]))
