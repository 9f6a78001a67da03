"""NUL characters in a URL path never reach a view.

No name or id of Studio's can contain U+0000, and PostgreSQL refuses it in any string it is given
("A string literal cannot contain NUL characters"), so a URL such as `/api/v1/assistants/%00`
would otherwise fail deep inside a query: a path holding one names nothing, 404. Query
parameters and form or JSON fields go through forms and serializers, which refuse NUL with a
message at the field (Django's and DRF's CharField do).
"""

from __future__ import annotations

from django.http import Http404


class RefuseNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            raise Http404("No such page.")
        return self.get_response(request)
