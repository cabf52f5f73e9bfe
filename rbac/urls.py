from django.urls import path

from rbac import views, views_access

app_name = "roles"

urlpatterns = [
    path("", views.role_list_view, name="list"),
    path("new/", views.role_create_view, name="create"),
    path("ownership/", views_access.ownership_transfer_view, name="ownership_transfer"),
    path("users/<uuid:user_id>/access/", views_access.user_access_view, name="user_access"),
    path(
        "users/<uuid:user_id>/roles/", views_access.user_role_assign_view, name="user_role_assign"
    ),
    path(
        "users/<uuid:user_id>/roles/<slug:slug>/remove/",
        views_access.user_role_remove_view,
        name="user_role_remove",
    ),
    path(
        "users/<uuid:user_id>/permissions/",
        views_access.user_permissions_view,
        name="user_permissions",
    ),
    path("<slug:slug>/", views.role_detail_view, name="detail"),
    path("<slug:slug>/edit/", views.role_edit_view, name="edit"),
    path("<slug:slug>/delete/", views.role_delete_view, name="delete"),
]
