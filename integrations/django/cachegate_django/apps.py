from django.apps import AppConfig
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_delete, post_init, post_migrate, post_save, pre_migrate


class CachegateConfig(AppConfig):
    name = "cachegate_django"
    label = "cachegate_django"
    verbose_name = "cachegate"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from . import changes, tracking

        connection_created.connect(tracking.install, dispatch_uid="cachegate_install")
        for conn in connections.all():
            tracking.install(conn)
        post_init.connect(tracking.on_post_init, dispatch_uid="cachegate_post_init")
        post_save.connect(changes.on_post_save, dispatch_uid="cachegate_post_save")
        post_delete.connect(changes.on_post_delete, dispatch_uid="cachegate_post_delete")
        m2m_changed.connect(changes.on_m2m_changed, dispatch_uid="cachegate_m2m")
        pre_migrate.connect(changes.on_pre_migrate, dispatch_uid="cachegate_pre_migrate")
        post_migrate.connect(changes.on_post_migrate, dispatch_uid="cachegate_post_migrate")
