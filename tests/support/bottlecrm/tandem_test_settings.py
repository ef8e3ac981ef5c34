"""Django settings for the throwaway BottleCRM (PyPI `django-crm`) that Tandem's tests
talk to. Started by `scripts/bottlecrm.sh`, which sets DJANGO_SETTINGS_MODULE to this
module and BOTTLECRM_DB to the SQLite file of one server.

FOR TESTS ONLY. Everything below weakens the real server on purpose: a fixed secret
key, DEBUG, SQLite without PostgreSQL row-level security, Celery tasks run inline in
the web process, and webhooks allowed to reach loopback addresses on any port (so they
can reach a listener of the test on 127.0.0.1). Never use it for anything real.
"""

import os

# crm.settings reads these from the environment when it is imported, and derives more
# from them there (SIMPLE_JWT's signing key is SECRET_KEY), so they are set first.
os.environ.setdefault("ENV_TYPE", "dev")
os.environ.setdefault("DEBUG", "True")
os.environ.setdefault("SECRET_KEY", "tandem-tests-only-bottlecrm-secret-key-0123456789abcdef")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("DOMAIN_NAME", "http://127.0.0.1")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("CELERY_RESULT_BACKEND", "cache+memory://")

from crm.settings import *  # noqa: E402,F401,F403

# The package's own settings are PostgreSQL-only (DBNAME, DBUSER, ... from the env).
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BOTTLECRM_DB", "/tmp/bottlecrm.sqlite3"),
        # The server runs a few threads, and a webhook listener may call back while a
        # write is in flight: wait for SQLite's lock instead of failing at once.
        "OPTIONS": {"timeout": 20},
    }
}

# No Redis and no worker: every task (webhook deliveries included) runs inline, in the
# request that queued it, once its transaction commits, so the API call that made a
# change answers only after the receiver has (or after the 10 s delivery timeout).
# There is no beat either: a failed attempt stays `pending`, due again in a minute, and
# nothing retries it (the real server's beat sweeps due deliveries every minute), and
# POST /api/webhooks/deliveries/<id>/redeliver/ refuses a pending delivery.
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False

# Mail is printed to the server's log.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# Fast password hashing: the tests make users, they never log in with a password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# crm.settings logs to server.log and security_audit.log in the working directory,
# which scripts/bottlecrm.sh makes the server's own folder. Uploads go there too.
MEDIA_ROOT = os.path.join(os.getcwd(), "media")

# Row-level security is PostgreSQL's: the middleware's `SELECT set_config(...)` fails on
# SQLite and logs a warning on every request. A no-op function of that name keeps the
# log readable. Tenants are still kept apart by the ORM filters, not by the database.
from django.db.backends.signals import connection_created  # noqa: E402


def _sqlite_set_config(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("set_config", 3, lambda name, value, local: value)


connection_created.connect(_sqlite_set_config)

# The SSRF guard of webhooks (webhooks/ssrf.py) refuses loopback addresses and every
# port but 80/443, and has no setting for either. The test listener is on
# 127.0.0.1:<free port>, so loopback (only loopback: private and reserved ranges stay
# refused) and any port are let through here. `resolve` and `parse` look both names up
# in the module at call time, so replacing them is enough.
from webhooks import ssrf  # noqa: E402

_real_is_blocked = ssrf.is_blocked


def _is_blocked_except_loopback(ip):
    # ::ffff:127.0.0.1 comes back here through the real function's own recursion.
    if ip.is_loopback:
        return False
    return _real_is_blocked(ip)


ssrf.is_blocked = _is_blocked_except_loopback
ssrf._allowed_ports = lambda: range(1, 65536)
