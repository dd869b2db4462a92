"""Security headers on every response: what a browser may load, embed and send along.

The review UI (`review_ui/`) has no inline script or style and loads everything from the server itself, so the
Content-Security-Policy allows scripts, styles and requests from the same origin only. Images may also come from
https: the map draws tiles from a tile server the user enters. No page may frame the UI (clickjacking), no response
is sniffed as another type, and no address leaves the site in a Referer.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "no-referrer",
}
