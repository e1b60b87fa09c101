"""How long a test waits for work done elsewhere (a worker, the server, a broker, a mail
delivery) before it calls that work stuck.

A wait ends as soon as the work is done, so a generous bound costs nothing when all is well:
it guards against a hang and is never a speed limit. CI shares the machine's two cores with
everything else (seen: a run that needed well over 20 s at load average 12), so the bound is
minutes, not seconds.
"""

from __future__ import annotations

PATIENCE = 300.0

# One request's answer, or one browser action's (a click and the page it leads to): a server
# that works answers at once, but one CI run saw a page take over 15 s and a request over 20 s
# (two test runs sharing the two cores, Chromium beside them). A bound on a hang, as PATIENCE.
ANSWER = 120.0
ANSWER_MS = int(ANSWER * 1000)  # Playwright counts in milliseconds
