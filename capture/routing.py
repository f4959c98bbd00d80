from django.urls import path

from .consumers import CaptureConsumer
from .pairing.consumers import PairingConsumer

websocket_urlpatterns = [
    path("ws/capture/<uuid:session_id>/", CaptureConsumer.as_asgi()),
    path("ws/pair/<uuid:request_id>/", PairingConsumer.as_asgi()),
]
