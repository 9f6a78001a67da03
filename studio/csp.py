"""The Content-Security-Policy every response carries. Scripts come only from Studio's own
static files: no inline scripts, no inline event handlers, no eval (htmx's trigger filters and
hx-on are not used, and htmx is told not to inject its indicator styles)."""

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Inline style attributes remain (a tag's colour); styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' https: data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
