"""WSGI entry point of the reading service (gunicorn bibid.reading.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from bibid.common import shedding

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bibid.reading.settings")
# Load shedding outside Django: a refused request costs no middleware, session or database work.
application = shedding.wrap(get_wsgi_application(), "reading")
