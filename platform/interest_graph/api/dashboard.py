"""The dashboard: one static page at ``/`` that reads the JSON API from the browser.

The view renders a template and nothing else — no data is fetched on the server, so the page
loads without an API key and asks for one (sent as ``X-API-Key`` on every ``/v1`` call). The
front-end libraries are vendored under ``static/vendor/`` (see its README), so the dashboard
needs no network at run time.
"""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint(
    "dashboard",
    __name__,
    static_folder="static",
    static_url_path="/static/dashboard",
    template_folder="templates",
)


@bp.get("/")
def index() -> str:
    """The dashboard page: segment overview, segment map and user lookup."""
    return render_template("dashboard.html")
