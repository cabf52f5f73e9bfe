from webhooks.views import app_name, urlpatterns  # noqa: F401 (the URLconf)
