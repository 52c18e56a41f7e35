"""The local web app (``lowface serve``): :mod:`lowface.web.app`, with its page, script and style in ``static/``."""
