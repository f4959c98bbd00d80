from django.urls import path

from . import settings_views, views

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
    # Settings (recaps/settings_views.py), and the two pages reached without signing in: the token is the key.
    path("settings/", settings_views.settings_page, name="settings"),
    path("settings/email/", settings_views.settings_email, name="settings_email"),
    path("settings/reminders/", settings_views.settings_reminders, name="settings_reminders"),
    path("settings/calendar/", settings_views.settings_calendar, name="settings_calendar"),
    path("settings/export.zip", settings_views.settings_export, name="settings_export"),
    path("reminders/off/<str:token>/", settings_views.reminder_off, name="reminder_off"),
    path("calendar/<str:token>.ics", settings_views.calendar_feed, name="calendar_feed"),
    # Shaping a recap (views.recap_edit and the POSTs it makes).
    path("<uuid:recap_id>/edit/", views.recap_edit, name="edit"),
    path("<uuid:recap_id>/edit/title/", views.recap_edit_title, name="edit_title"),
    path("<uuid:recap_id>/edit/fix-word/", views.recap_edit_fix_word, name="edit_fix_word"),
    path("<uuid:recap_id>/edit/remove/", views.recap_edit_remove, name="edit_remove"),
    path("<uuid:recap_id>/edit/item/", views.recap_edit_item, name="edit_item"),
]
