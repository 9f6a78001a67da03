"""NUL characters never reach a view.

No name, id or filter of Studio's can contain U+0000, and PostgreSQL refuses it in any string it
is given ("A string literal cannot contain NUL characters"), so a URL such as
`/api/v1/assistants/%00` would otherwise fail deep inside a query. A path holding one names
nothing: 404. A query parameter holding one is a bad request: 400 naming the parameter. Form and
JSON fields are checked by their forms and serializers (Django and DRF refuse NUL there).
"""

from __future__ import annotations

from django.http import Http404, JsonResponse


class RefuseNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            raise Http404("No such page.")
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return JsonResponse(
                    {"errors": [{"path": name, "message": "NUL characters are not allowed."}]},
                    status=400,
                )
        return self.get_response(request)
