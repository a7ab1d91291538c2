"""Settings of the reading service, from the environment."""

from bibid.common import demo as demo_spec
from bibid.common import settings as common

globals().update(
    common.build(
        "reading",
        apps=[
            "bibid.common.rp",
            "bibid.reading.catalogue",
            "bibid.reading.loans",
            "bibid.reading.home",
        ],
        middleware_extra=["bibid.common.rp.middleware.SessionCheckMiddleware"],
    )
)

# Every page shows who is signed in (or where to sign in).
TEMPLATES[0]["OPTIONS"]["context_processors"].append(  # noqa: F821 - set just above
    "bibid.reading.home.context.patron"
)

# Patrons sign in through the login service as this OpenID Connect client (bibid.common.rp).
# Demo and development use the published demo client; production must set both.
BIBID_RP_CLIENT_LOADER = "bibid.reading.signin.client"
_demo_client = demo_spec.READING_SERVICE if DEBUG or BIBID_DEMO else None  # noqa: F821
READING_OIDC_CLIENT_ID = common.env.str(
    "READING_OIDC_CLIENT_ID", default=_demo_client.client_id if _demo_client else ""
)
READING_OIDC_CLIENT_SECRET = common.env.str(
    "READING_OIDC_CLIENT_SECRET", default=_demo_client.client_secret if _demo_client else ""
)
