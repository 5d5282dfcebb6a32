"""Routes: django-helpdesk at the root, so its ticket API is /api/tickets/."""

from django.urls import include, path

urlpatterns = [path("", include("helpdesk.urls", namespace="helpdesk"))]
