"""Request-level guards that run before any view."""

from tempfile import SpooledTemporaryFile

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream, WSGIRequest
from django.http import JsonResponse

_READ_BLOCK = 64 * 1024


class LivenessProbeMiddleware:
    """Answer `GET /health` before anything checks the Host header (it runs right after SecurityMiddleware, which
    adds its headers and reads the host only to redirect to HTTPS, which MiniRAG leaves to the proxy).

    Container and load-balancer probes call the server by its address (`127.0.0.1:8000`, a pod IP), which is
    not in ALLOWED_HOSTS once that names the real host, so Django's host check would answer them 400. The
    answer is a constant that builds nothing from the Host header, so skipping the check here is safe; every
    other path, /v1/system/health included, keeps it. minirag.views.LivenessView documents the same answer.
    """

    PATH = "/health"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == self.PATH and request.method in ("GET", "HEAD"):
            return JsonResponse({"status": "ok"})
        return self.get_response(request)


class RequestBodyLimitMiddleware:
    """Refuse oversized bodies before anything parses them (413), and read chunked bodies.

    Multipart uploads get the upload limit plus room for the form fields, so an upload slightly over the
    file limit still reaches the view and gets the reference's 422 "File too large" message.

    A chunked body (`Transfer-Encoding: chunked`, no Content-Length) is de-chunked by gunicorn, but Django
    reads a request body only up to CONTENT_LENGTH, so it would look empty. It is read here, at most the
    limit (spooled to a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE), and handed on with its length,
    like any other body.
    """

    MULTIPART_MARGIN = 1024 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/"):
            limit = settings.MAX_UPLOAD_BYTES + self.MULTIPART_MARGIN
        else:
            limit = settings.MAX_REQUEST_BODY_BYTES
        if _is_chunked(request):
            if not _read_chunked_body(request, limit):
                return _too_large(limit)
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length"}, status=400)
        if length > limit:
            return _too_large(limit)
        return self.get_response(request)


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse({"detail": f"Request body too large (limit {limit} bytes)"}, status=413)


def _is_chunked(request) -> bool:
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return "chunked" in encoding and not request.META.get("CONTENT_LENGTH")


def _read_chunked_body(request, limit: int) -> bool:
    """Replace the request's (empty-looking) stream by the whole body; False when it is over `limit`."""
    # Under WSGI the raw input is past Django's zero-length LimitedStream; under ASGI the stream is the body.
    source = request.environ["wsgi.input"] if isinstance(request, WSGIRequest) else request._stream
    body = SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # unlinked: nothing stays on disk
    size = 0
    while block := source.read(_READ_BLOCK):
        size += len(block)
        if size > limit:
            body.close()
            return False
        body.write(block)
    body.seek(0)
    request.META["CONTENT_LENGTH"] = str(size)
    request._stream = LimitedStream(body, size)
    return True
