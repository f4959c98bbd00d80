from django.urls import include, path

from . import views

app_name = "capture"

urlpatterns = [
    path("", views.start, name="start"),
    path("self/", views.self_start, name="self_start"),
    path("s/<uuid:session_id>/", views.session_page, name="session"),
    path("s/<uuid:session_id>/consent/", views.consent, name="consent"),
    path("consent/rule/", views.consent_rule, name="consent_rule"),
    path("ask/", views.ask, name="ask"),
    path("ask/message/", views.ask_message, name="ask_message"),
    path("s/<uuid:session_id>/status/", views.session_status, name="status"),
    path("", include("capture.pairing.urls")),
]
