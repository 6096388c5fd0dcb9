"""In-process ping throughput of the Python original, rohrpost on Django Channels: the reference
that bench/websocket-handler.ts runs beside its own figures. rohrpost itself is not part of this
project: this script imports it from the checkout given as its first argument.

    python3 bench/python/rohrpost_ping.py <rohrpost checkout> <milliseconds> <frame> <expected reply>

Prints one JSON line: messages per second of CPU time (as the TypeScript side counts them), and
the versions that ran.
"""

import json
import os
import platform
import sys
import time

checkout, milliseconds, frame, expected = sys.argv[1:5]
sys.path.insert(0, os.path.join(checkout, "src"))

import channels  # noqa: E402
from rohrpost.main import handle_rohrpost_message  # noqa: E402


class Consumer:
    """Keeps the last text sent, as the Lambda keeps the reply for its route response."""

    sent = None

    def send(self, text_data):
        self.sent = text_data


def run(consumer, seconds):
    count = 0
    started = time.perf_counter()
    cpu = time.process_time()
    while time.perf_counter() - started < seconds:
        for _ in range(1000):
            handle_rohrpost_message(consumer=consumer, text_data=frame)
        count += 1000
    return count / (time.process_time() - cpu)


consumer = Consumer()
handle_rohrpost_message(consumer=consumer, text_data=frame)
if json.loads(consumer.sent) != json.loads(expected):
    sys.exit(f"unexpected reply {consumer.sent}")
run(consumer, 0.2)  # warm-up: caches, branch predictors
rate = run(consumer, int(milliseconds) / 1000)
print(
    json.dumps(
        {
            "messagesPerSecond": rate,
            "python": platform.python_version(),
            "channels": channels.__version__,
        }
    )
)
