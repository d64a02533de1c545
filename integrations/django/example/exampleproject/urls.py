from django.contrib import admin
from django.urls import path

from shop import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("items/", views.item_list),
    path("items/bulk-raise/", views.bulk_raise),
    path("items/<int:pk>/", views.item_detail),
    path("items/<int:pk>/rollback/", views.item_rollback),
    path("items/<int:pk>/labels/", views.item_labels),
    path("stats/", views.stats),
]
