from django.urls import path

from . import views

app_name = "recaps"

urlpatterns = [
    path("", views.recap_list, name="list"),
    path("<uuid:recap_id>/", views.recap_detail, name="detail"),
]
