import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the PostgreSQL database named by DATABASE_URL when it does not exist yet."

    def handle(self, *args, **options):
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            self.stdout.write("Not a PostgreSQL database: nothing to create.")
            return
        params = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"], "password": db["PASSWORD"]}
        try:
            with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
                    return
                conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
        except psycopg.Error as exc:
            raise CommandError(f"Could not create database {db['NAME']}: {exc}") from exc
        self.stdout.write(f"Created database {db['NAME']}.")
