#!/usr/bin/env python3
"""An SMTP server in a process of its own, for the API tests: accepts every message on
127.0.0.1:<port> and writes each one, as received, to <dir>/<n>.eml (envelope in <n>.env).

Uses aiosmtpd when it is installed (scripts/s3-test-server.sh installs it beside moto, and the
tests run this script with that environment's python), else the standard library's smtpd
(Python 3.11 and earlier). Prints "ready" once it listens. Stops on SIGTERM.

    python3 scripts/smtp-sink.py <port> <dir>
"""

import os
import sys
import threading

PORT = int(sys.argv[1])
OUT = sys.argv[2]
os.makedirs(OUT, exist_ok=True)
lock = threading.Lock()
count = [0]


def keep(mail_from, rcpt_tos, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with lock:
        count[0] += 1
        n = count[0]
    with open(os.path.join(OUT, f"{n}.env.tmp"), "w", encoding="utf-8") as f:
        f.write(mail_from + "\n" + "\n".join(rcpt_tos) + "\n")
    with open(os.path.join(OUT, f"{n}.eml.tmp"), "wb") as f:
        f.write(data)
    os.rename(os.path.join(OUT, f"{n}.env.tmp"), os.path.join(OUT, f"{n}.env"))
    os.rename(os.path.join(OUT, f"{n}.eml.tmp"), os.path.join(OUT, f"{n}.eml"))


try:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            keep(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=PORT)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()
except ImportError:
    import asyncore
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    import smtpd

    class Sink(smtpd.SMTPServer):
        def process_message(self, peer, mail_from, rcpt_tos, data, **kwargs):
            keep(mail_from, rcpt_tos, data)

    Sink(("127.0.0.1", PORT), None, decode_data=False)
    print("ready", flush=True)
    asyncore.loop()
