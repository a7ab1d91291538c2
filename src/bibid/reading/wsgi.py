"""WSGI entry point of the reading service (gunicorn bibid.reading.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bibid.reading.settings")
application = get_wsgi_application()
