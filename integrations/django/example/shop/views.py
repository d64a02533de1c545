"""Two API views over one shared table (a list and a detail), a raw-SQL
view, and the writes the tests drive. Reads are public and cacheable; the
middleware tags them."""

from django.db import connection, transaction
from django.db.models import F
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import Item, Label


def _public(response):
    response["Cache-Control"] = "public, max-age=300"
    return response


def _item(i):
    return {"id": i.pk, "name": i.name, "price": i.price}


def item_list(request):
    return _public(JsonResponse({"items": [_item(i) for i in Item.objects.order_by("id")]}))


@csrf_exempt
def item_detail(request, pk):
    if request.method == "POST":
        item = Item.objects.get(pk=pk)
        item.price = int(request.POST["price"])
        item.save()
        return JsonResponse(_item(item))
    try:
        return _public(JsonResponse(_item(Item.objects.get(pk=pk))))
    except Item.DoesNotExist:
        raise Http404("no such item")


class Refused(Exception):
    pass


@csrf_exempt
def item_rollback(request, pk):
    """Writes, then fails: the transaction rolls back, nothing changed."""
    try:
        with transaction.atomic():
            Item.objects.filter(pk=pk).update(price=F("price") + 1000)
            item = Item.objects.get(pk=pk)
            item.name = "rolled back"
            item.save()
            raise Refused()
    except Refused:
        return JsonResponse({"rolled_back": True}, status=409)


@csrf_exempt
def bulk_raise(request):
    n = Item.objects.filter(price__gte=0).update(price=F("price") + 1)
    return JsonResponse({"updated": n})


def stats(request):
    with connection.cursor() as c:
        c.execute("SELECT COUNT(*), SUM(price) FROM shop_item")
        count, total = c.fetchone()
    return _public(JsonResponse({"count": count, "total": total}))


@csrf_exempt
def item_labels(request, pk):
    item = Item.objects.get(pk=pk)
    if request.method == "POST":
        item.labels.add(Label.objects.get_or_create(name=request.POST["label"])[0])
        return JsonResponse({"ok": True})
    return _public(JsonResponse({"labels": [label.name for label in item.labels.order_by("name")]}))
