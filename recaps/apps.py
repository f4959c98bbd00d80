from django.apps import AppConfig


class RecapsConfig(AppConfig):
    name = "recaps"
