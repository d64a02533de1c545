from django.contrib import admin

from .models import Item, Label

admin.site.register(Item)
admin.site.register(Label)
