"""A single-file Django project: ``/`` text, ``/json`` a JSON document, ``/echo`` echoes.

``/echo`` answers any method with the request body, byte for byte, in the response
body, and the request method in the ``X-Request-Method`` header.

Serve it with::

    python -m wsgikit examples.django_app:application

Importing this module configures Django's global settings, so it cannot share a process
with another Django project.
"""

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        # An example served on any address; a real deployment lists its host names.
        ALLOWED_HOSTS=["*"],
        SECRET_KEY="wsgikit-example-not-secret",
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        USE_TZ=True,
        # Let the server's limit_request_body bound request bodies, not Django's
        # 2.5 MB default, so large-upload tests reach the view.
        DATA_UPLOAD_MAX_MEMORY_SIZE=None,
    )

from django.core.wsgi import get_wsgi_application  # noqa: E402 - needs settings first
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from Django!", content_type="text/plain; charset=utf-8")


def json_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"framework": "django", "message": "JSON response"})


@csrf_exempt
def echo(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        request.body,
        content_type=request.META.get("CONTENT_TYPE") or "application/octet-stream",
    )
    response["X-Request-Method"] = request.method or ""
    return response


urlpatterns = [
    path("", index),
    path("json", json_view),
    path("echo", echo),
]

application = get_wsgi_application()
