from django.urls import include, path

from . import views
from .consent import views as consent_views

app_name = "capture"

urlpatterns = [
    path("", views.start, name="start"),
    path("self/", consent_views.self_start, name="self_start"),
    path("s/<uuid:session_id>/", views.session_page, name="session"),
    path("s/<uuid:session_id>/consent/", consent_views.consent, name="consent"),
    path("consent/rule/", consent_views.consent_rule, name="consent_rule"),
    path("ask/", consent_views.ask, name="ask"),
    path("ask/message/", consent_views.ask_message, name="ask_message"),
    path("s/<uuid:session_id>/status/", views.session_status, name="status"),
    path("s/<uuid:session_id>/finish/", views.session_finish, name="session_finish"),
    path("s/<uuid:session_id>/discard/", views.session_discard, name="session_discard"),
    path("s/<uuid:session_id>/voice-check/", views.voice_check, name="voice_check"),
    path("", include("capture.pairing.urls")),
]
