from django.db import models


class Label(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self):
        return self.name


class Item(models.Model):
    name = models.CharField(max_length=100)
    price = models.IntegerField(default=0)
    labels = models.ManyToManyField(Label, blank=True)

    def __str__(self):
        return self.name
