from django.urls import path

from . import views

app_name = "recaps"

urlpatterns = [
    path("", views.recap_list, name="list"),
    path("brief/", views.brief, name="brief"),
    path("appointment/", views.appointment, name="appointment"),
    path("patterns/", views.patterns, name="patterns"),
    path("moments/<int:schedule_id>/seen/", views.moment_seen, name="moment_seen"),
    path("notes/", views.after_note_list, name="after_note_list"),
    path("notes/new/", views.after_note_new, name="after_note_new"),
    path("notes/<uuid:note_id>/", views.after_note_edit, name="after_note_edit"),
    path("notes/<uuid:note_id>/delete/", views.after_note_delete, name="after_note_delete"),
    path("<uuid:recap_id>/", views.recap_detail, name="detail"),
    path("<uuid:recap_id>/export.md", views.recap_export, name="export"),
    path("<uuid:recap_id>/delete/", views.recap_delete, name="delete"),
    path("<uuid:recap_id>/note/", views.note_save, name="note"),
    path("<uuid:recap_id>/next-steps/<int:index>/toggle/", views.next_step_toggle, name="next_step_toggle"),
]
