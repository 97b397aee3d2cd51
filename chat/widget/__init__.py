"""The embeddable chat widget (widget.js) and the hosted chat page's data; served by chat/public_views.py."""
