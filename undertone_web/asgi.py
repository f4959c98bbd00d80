"""ASGI entry point for Daphne: HTTP through Django, WebSockets through Channels.

AllowedHostsOriginValidator refuses sockets whose Origin is not in ALLOWED_HOSTS (cross-site WebSocket
hijacking), and AuthMiddlewareStack puts the Django session's user on the socket's scope."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "undertone_web.settings.base")
django_asgi_app = get_asgi_application()  # must run before importing anything that touches models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from capture.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything loaded so far (Django, the app, numpy, webrtcvad...) lives as long as the process: keep it
# out of the collector's full passes, which otherwise walk all of it and stall the event loop for every
# socket at once (bench/README.md "Ingest": py-spy and gc timings).
gc.collect()
gc.freeze()
