"""WSGI entry point of the library service (gunicorn bibid.library.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bibid.library.settings")
application = get_wsgi_application()
