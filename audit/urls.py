from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="list"),
    path("<int:pk>/", views.event_detail, name="detail"),
    path("organizations/", views.organization_options, name="organization_options"),
    path("user/<uuid:user_id>/", views.user_trail, name="user_trail"),
    path("user/<uuid:user_id>/scrub/", views.user_scrub, name="user_scrub"),
    path("export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path("export.jsonl", views.export, {"fmt": "jsonl"}, name="export_jsonl"),
]
