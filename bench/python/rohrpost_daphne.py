"""The Python original served as its users serve it: rohrpost's SyncRohrpostConsumer in a Django
Channels application, under Daphne, with the in-memory channel layer. bench/sandbox-load.ts runs
it beside the sandbox under the same load. rohrpost itself is not part of this project: this
module imports it from the checkout named by ROHRPOST_PYTHON.

    ROHRPOST_PYTHON=<rohrpost checkout> python3 -m daphne -b 127.0.0.1 -p <port> rohrpost_daphne:application

(run from this folder, or with it on PYTHONPATH).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.environ["ROHRPOST_PYTHON"], "src"))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="bench",
    INSTALLED_APPS=["channels"],
    CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
)
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402
from rohrpost.sync_consumer import SyncRohrpostConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("", SyncRohrpostConsumer.as_asgi())])}
)
