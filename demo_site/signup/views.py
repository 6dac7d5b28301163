"""Home, signup and welcome pages."""

from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from demo_site.signup.forms import SignupForm


def home(request: HttpRequest) -> HttpResponse:
    """A landing page that links to the signup form."""
    return render(request, "signup/home.html")


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account once the form, CAPTCHA included, validates."""
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user)
            return redirect("signup:welcome")
    else:
        form = SignupForm()
    return render(request, "signup/signup.html", {"form": form})


def welcome(request: HttpRequest) -> HttpResponse:
    """Where a successful signup lands."""
    return render(request, "signup/welcome.html")
