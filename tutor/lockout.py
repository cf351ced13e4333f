"""The brake on password guessing at the admin's login: django-axes, configured in settings.py.

After ADMIN_LOCKOUT_FAILURES failed sign-ins for one username, or from one address, every sign-in
for that username or from that address is refused, the right password included, without checking
any password. A failure counts until ADMIN_LOCKOUT_MINUTES have passed since the last failure of
the same username, address and browser; attempts refused while locked are not counted. So a lock
ends at most ADMIN_LOCKOUT_MINUTES after the failure that closed it, or when staff lift it by
deleting its access attempts in the admin. A successful sign-in clears the count of its username
and of its address.

Failures are counted in PostgreSQL (axes' database handler), so every gunicorn worker of every
instance sees the same count. Only the admin's login is braked: API clients send a token, which
is never checked as a password.
"""

import ipaddress
import math
from datetime import timedelta

from axes.conf import settings
from axes.helpers import get_client_username, get_cool_off
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from rest_framework.settings import api_settings


def client_address(request: HttpRequest) -> str | None:
    """Return the address a sign-in comes from, by the API's rule for trusted proxies (NUM_PROXIES).

    With no trusted proxy (the default) it is the socket's address, whatever X-Forwarded-For says:
    that header is the client's to write. Behind N proxies it is the entry N from the end of
    X-Forwarded-For, the one the outermost trusted proxy appended.
    """
    socket_address = request.META.get("REMOTE_ADDR")
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = request.headers.get("x-forwarded-for")
    if not proxies or not forwarded:
        return socket_address
    entries = forwarded.split(",")
    address = entries[-min(proxies, len(entries))].strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        # Only a miscounted proxy chain gets here; the entry must not reach the database's inet column.
        return socket_address


def lockout_message(cool_off: timedelta) -> str:
    """Say why a sign-in was refused, and how long to wait."""
    minutes = math.ceil(cool_off.total_seconds() / 60)
    return (
        "Too many failed sign-ins for this account or address. "
        f"Try again in {minutes} minute{'' if minutes == 1 else 's'}, "
        "or ask another staff member to lift the lockout."
    )


def lockout_response(request: HttpRequest, original_response: HttpResponse, credentials: dict | None) -> HttpResponse:
    """Answer a refused sign-in with the admin's login page again, topped by the lockout message."""
    username = get_client_username(request, credentials) or ""
    context = {
        **admin.site.each_context(request),
        "title": "Log in",
        "app_path": request.get_full_path(),
        "next": reverse("admin:index"),
        "form": AdminAuthenticationForm(request, initial={"username": username}),
        "lockout_message": lockout_message(get_cool_off(request)),
    }
    return render(request, "admin/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
