from django.urls import path

from . import views

urlpatterns = [
    # Laptop (signed out). /capture/ itself is capture.views.start, which calls views.laptop.
    path("pair/new/", views.refresh, name="pair_refresh"),
    path("pair/<uuid:request_id>/status/", views.status, name="pair_status"),
    path("pair/<uuid:request_id>/complete/", views.complete, name="pair_complete"),
    # Phone (signed in). Any string: a malformed token gets the same "expired" page as any other.
    path("pair/<str:token>/", views.approve, name="pair_approve"),
    path("devices/", views.devices, name="devices"),
    path("devices/<uuid:device_id>/revoke/", views.device_revoke, name="device_revoke"),
]
