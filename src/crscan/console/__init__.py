"""The web console served under /ui/ by `crscan serve`: the API's servicers and authorizer, rendered as pages.

    app = console_app(servicers, authenticator, store, feed_db_path)   # mount at /ui on the REST port
"""

from crscan.console.app import PREFIX, console_app
from crscan.console.interface import ConsoleError, SignInRefused

__all__ = ["PREFIX", "ConsoleError", "SignInRefused", "console_app"]
