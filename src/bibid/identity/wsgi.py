"""WSGI entry point of the identity service (gunicorn bibid.identity.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bibid.identity.settings")
application = get_wsgi_application()
