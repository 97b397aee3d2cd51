"""Request-level guards that run before any view."""

from django.conf import settings
from django.http import JsonResponse


class RequestBodyLimitMiddleware:
    """Refuse oversized bodies by Content-Length before anything reads them (413).

    Multipart uploads get the upload limit plus room for the form fields, so an upload slightly over the
    file limit still reaches the view and gets the reference's 422 "File too large" message.
    """

    MULTIPART_MARGIN = 1024 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length"}, status=400)
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/"):
            limit = settings.MAX_UPLOAD_BYTES + self.MULTIPART_MARGIN
        else:
            limit = settings.MAX_REQUEST_BODY_BYTES
        if length > limit:
            return JsonResponse({"detail": f"Request body too large (limit {limit} bytes)"}, status=413)
        return self.get_response(request)
