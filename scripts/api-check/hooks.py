"""schemathesis hooks of `just api-check` (scripts/api-check.sh loads this module).

A client sends a fresh `Idempotency-Key` for each operation it means to run and repeats a key
only to retry that one operation. Generated keys repeat often ("0", "!"), and the stateful
phase replays whole sequences against the same server while it shrinks a case; a repeated key
then answers its first answer (a post created, and perhaps deleted, long before), which the
checks would read as a resource lost. So every valid key of a valid request is made unique.
Negative cases are sent as generated: their refusal is checked as any negative data, and a
refused request stores no answer under its key.
"""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative:
        return
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and VALID_KEY.match(value):
            headers[name] = f"api-check-{uuid.uuid4()}"
