from django.urls import path

from rbac import views_organizations as views

app_name = "organizations"

urlpatterns = [
    path("", views.organization_list_view, name="list"),
    path("assign/<uuid:user_id>/", views.organization_role_picker_view, name="role_picker"),
    path("<slug:slug>/", views.organization_detail_view, name="detail"),
    path("<slug:slug>/members/", views.organization_member_add_view, name="member_add"),
    path("<slug:slug>/invite/", views.organization_invite_view, name="invite"),
    path(
        "<slug:slug>/members/<uuid:user_id>/remove/",
        views.organization_member_remove_view,
        name="member_remove",
    ),
    path(
        "<slug:slug>/members/<uuid:user_id>/roles/",
        views.organization_role_assign_view,
        name="role_assign",
    ),
    path(
        "<slug:slug>/members/<uuid:user_id>/roles/<slug:role_slug>/remove/",
        views.organization_role_remove_view,
        name="role_remove",
    ),
]
